/**
 * The X-Callback-Url POST: the function's response body with OpenFaaS' callback headers.
 * Failed callbacks (connection error, 408, 429, 5xx) are retried a bounded number of times.
 */
import { request, type Dispatcher } from 'undici';
import type { JobOutcome } from '../types.js';
import { backoffMs, type RetryPolicy } from './retry-policy.js';

export interface CallbackOptions {
  /** Total delivery attempts. Default 5. */
  attempts: number;
  minWaitMs: number;
  maxWaitMs: number;
  timeoutMs: number;
}

export const DEFAULT_CALLBACK_OPTIONS: CallbackOptions = { attempts: 5, minWaitMs: 1000, maxWaitMs: 10_000, timeoutMs: 10_000 };

export interface CallbackResult { ok: boolean; attempts: number; status?: number; error?: string }

export function callbackHeaders(call: { callId: string; fn: string; startTimeNs: string; outcome: JobOutcome }): Record<string, string> {
  const h: Record<string, string> = {
    'x-call-id': call.callId,
    'x-function-status': String(call.outcome.statusCode),
    'x-function-name': call.fn,
    'x-duration-seconds': (call.outcome.durationMs / 1000).toFixed(6),
    'x-start-time': call.startTimeNs,
    'user-agent': 'trellis-queue-worker',
  };
  const ct = call.outcome.headers['content-type'];
  if (ct) h['content-type'] = ct;
  return h;
}

export async function deliverCallback(
  url: string,
  call: { callId: string; fn: string; startTimeNs: string; outcome: JobOutcome },
  opts: CallbackOptions,
  deps: { random: () => number; dispatcher?: Dispatcher; sleep?: (ms: number) => Promise<void> } = { random: Math.random },
): Promise<CallbackResult> {
  const headers = callbackHeaders(call);
  const policy: RetryPolicy = { maxAttempts: opts.attempts, minWaitMs: opts.minWaitMs, maxWaitMs: opts.maxWaitMs, retryCodes: new Set() };
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let last: CallbackResult = { ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    try {
      const res = await request(url, {
        method: 'POST', headers, body: call.outcome.body, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs,
        ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
      });
      await res.body.dump();
      last = { ok: res.statusCode >= 200 && res.statusCode < 300, attempts: attempt, status: res.statusCode };
      // A 4xx other than 408/429 means the receiver rejected it for good: do not hammer it.
      const permanent = res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 408 && res.statusCode !== 429;
      if (last.ok || permanent) return last;
    } catch (err) {
      last = { ok: false, attempts: attempt, error: (err as Error).message };
    }
    if (attempt < opts.attempts) await sleep(backoffMs(attempt, policy, deps.random()));
  }
  return last;
}
