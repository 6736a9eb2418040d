/**
 * What the gateway asks of the activator: a lease on a ready instance of a function.
 * The activator holds the request while no instance can take it (scale from zero, every
 * instance at its concurrency limit), and balances across ready instances.
 */

export interface InstanceLease {
  instanceId: string;
  host: string;
  port: number;
  /** True when this request waited for an instance to start (a cold start). */
  coldStart: boolean;
  /** Must be called exactly once when the request is finished (any outcome). */
  release(outcome?: { ok: boolean; durationMs: number }): void;
}

/** Why an acquire failed; the gateway turns it into an HTTP status. */
export class ActivationError extends Error {
  constructor(
    message: string,
    /** 404 unknown function, 503 queue full / timed out / never ready, 499 client gone. */
    readonly status: 404 | 499 | 503,
    /** Seconds for Retry-After on 503. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ActivationError';
  }
}

export interface Activator {
  /**
   * A lease on an instance of `fn`. Resolves at once when one has spare capacity; else the
   * request is held (bounded queue) until one does. `signal` aborts a held request (client
   * went away) and drops it from the queue.
   */
  acquire(fn: string, signal?: AbortSignal): Promise<InstanceLease>;
  /**
   * Optional synchronous fast path: a lease when an instance has room right now and nothing
   * is held, else undefined (then call `acquire`, with a signal for the client's disconnect).
   * Lets a hot path skip a promise per request and allocate an AbortController only when held.
   */
  tryAcquire?(fn: string): InstanceLease | undefined;
  /** Requests currently held per function (for metrics). */
  held(fn: string): number;
  close(): Promise<void>;
}
