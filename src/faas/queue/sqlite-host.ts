/**
 * Runs a SqliteStore's operations by name, with group commit for enqueues: enqueues that
 * arrive before the next turn of the loop share one transaction and one fsync. Used on the
 * storage thread (sqlite-thread.ts) and, inline, when a test injects a clock.
 */
import type { EnqueueInput, JobState, Reservation } from './types.js';
import { SqliteStore, type EnqueueAnswer } from './sqlite-store.js';

export type StoreOp = 'take' | 'extend' | 'finish' | 'nack' | 'release' | 'status' | 'list' | 'retry';

export class StoreHost {
  private pending: Array<{ input: EnqueueInput; done: (a: EnqueueAnswer) => void }> = [];

  constructor(readonly store: SqliteStore, private readonly wake: () => void) {}

  enqueue(input: EnqueueInput, done: (a: EnqueueAnswer) => void): void {
    this.pending.push({ input, done });
    if (this.pending.length === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    let answers: EnqueueAnswer[];
    try {
      answers = this.store.enqueueBatch(batch.map((p) => p.input));
    } catch (err) {
      answers = batch.map(() => ({ error: (err as Error).message }));
    }
    batch.forEach((p, i) => p.done(answers[i]));
    this.wake();
  }

  run(op: StoreOp, args: unknown[]): unknown {
    const s = this.store as unknown as Record<StoreOp, (...a: unknown[]) => unknown>;
    const value = s[op](...args);
    if ((op === 'release' && (args[1] as number) <= 0) || (op === 'retry' && value === true)) this.wake();
    return value;
  }

  close(): void {
    this.flush();
    this.store.close();
  }
}

/** A copy whose ArrayBuffer is exactly its bytes (structured clone copies the whole buffer). */
export function exact(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

/** Compacts the bodies inside an operation's answer before it crosses threads. */
export function compactAnswer(op: StoreOp, v: unknown): unknown {
  if (op === 'take') for (const r of v as Reservation[]) r.job.request.body = exact(r.job.request.body) as Buffer;
  const state = (s: JobState) => { if (s.result) s.result.body = exact(s.result.body) as Buffer; };
  if (op === 'status' && v) state(v as JobState);
  if (op === 'list') (v as JobState[]).forEach(state);
  return v;
}
