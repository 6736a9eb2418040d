/** Per-function log ring buffer with live followers (for logs() and followLogs()). */
import type { LogLine } from './provider.js';

export class LogBuffer {
  private lines: LogLine[] = [];
  private start = 0;
  private followers = new Set<(l: LogLine) => void>();

  constructor(private readonly capacity = 5000) {}

  push(line: LogLine): void {
    if (this.lines.length < this.capacity) this.lines.push(line);
    else { this.lines[this.start] = line; this.start = (this.start + 1) % this.capacity; }
    for (const f of this.followers) { try { f(line); } catch { /* a bad follower must not break logging */ } }
  }

  /** Oldest first; `since` filters by timestamp, then `tail` keeps the last n. */
  read(opts: { tail?: number; since?: Date } = {}): LogLine[] {
    let out = this.lines.length < this.capacity ? this.lines.slice() : [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)];
    if (opts.since) { const t = opts.since.toISOString(); out = out.filter((l) => l.timestamp >= t); }
    if (opts.tail !== undefined && opts.tail >= 0) out = out.slice(Math.max(0, out.length - opts.tail));
    return out;
  }

  follow(onLine: (l: LogLine) => void): () => void {
    this.followers.add(onLine);
    return () => { this.followers.delete(onLine); };
  }
}

/** Splits a byte stream into lines (long lines cut at maxLen), calling onLine for each. */
export function lineSplitter(onLine: (text: string) => void, maxLen = 16 * 1024): { write(b: Buffer): void; flush(): void } {
  let rest = '';
  return {
    write(b) {
      rest += b.toString('utf8');
      let i: number;
      while ((i = rest.indexOf('\n')) !== -1) { onLine(rest.slice(0, i).replace(/\r$/, '')); rest = rest.slice(i + 1); }
      while (rest.length > maxLen) { onLine(rest.slice(0, maxLen)); rest = rest.slice(maxLen); }
    },
    flush() { if (rest) onLine(rest); rest = ''; },
  };
}
