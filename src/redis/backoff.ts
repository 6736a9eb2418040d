/** Reconnect delay after `failures` consecutive failed attempts: 0, 100, 200, 400 ... capped. */
export function reconnectDelay(failures: number, baseMs = 100, maxMs = 5000): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 16));
}
