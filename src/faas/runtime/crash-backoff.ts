/**
 * Crash-loop back-off, a pure decider (like Kubernetes' CrashLoopBackOff, faster): each
 * crash doubles the delay before the next start (100 ms → 10 s cap); an instance that stays
 * up for `resetAfterMs` clears the count.
 */
export interface BackoffPolicy { initialMs: number; maxMs: number; resetAfterMs: number; loopAfter: number }

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 10_000, resetAfterMs: 30_000, loopAfter: 3 };

export interface CrashState { restarts: number; crashLoop: boolean; backoffUntil?: number; lastCrashAt?: number }

export const NO_CRASHES: CrashState = { restarts: 0, crashLoop: false };

/** The state after an instance that ran for `uptimeMs` crashed at `now`. */
export function afterCrash(prev: CrashState, uptimeMs: number, now: number, p: BackoffPolicy = DEFAULT_BACKOFF): CrashState {
  const restarts = uptimeMs >= p.resetAfterMs ? 1 : prev.restarts + 1;
  const delay = Math.min(p.maxMs, p.initialMs * 2 ** (restarts - 1));
  return { restarts, crashLoop: restarts >= p.loopAfter, backoffUntil: now + delay, lastCrashAt: now };
}

/** Clears the count once some instance has been up `resetAfterMs` since the last crash. */
export function settle(prev: CrashState, longestUptimeMs: number, now: number, p: BackoffPolicy = DEFAULT_BACKOFF): CrashState {
  if (prev.restarts === 0) return prev;
  const since = prev.lastCrashAt === undefined ? Infinity : now - prev.lastCrashAt;
  if (longestUptimeMs >= p.resetAfterMs && since >= p.resetAfterMs) return NO_CRASHES;
  return prev;
}

/** ms to wait before the next start (0 = go now). */
export function waitBeforeStart(s: CrashState, now: number): number {
  return s.backoffUntil !== undefined && s.backoffUntil > now ? s.backoffUntil - now : 0;
}
