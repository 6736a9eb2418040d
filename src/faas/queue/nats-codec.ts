/** How jobs and states are laid out in NATS messages and KV values. */
import type { MsgHdrs } from 'nats';
import type { Job, JobState } from './types.js';
import { decodeOutcome, encodeOutcome } from './codec.js';

const JOB_HEADER = 'Trellis-Job';

/** Job metadata goes in one base64 JSON header; the message data is the raw request body. */
export function encodeJob(job: Job, h: MsgHdrs): Uint8Array {
  const { request, ...rest } = job;
  const meta = { ...rest, method: request.method, path: request.path, query: request.query, headers: request.headers };
  h.set(JOB_HEADER, Buffer.from(JSON.stringify(meta)).toString('base64'));
  return request.body;
}

export function decodeJob(h: MsgHdrs | undefined, data: Uint8Array): Job | undefined {
  const raw = h?.get(JOB_HEADER);
  if (!raw) return undefined;
  try {
    const m = JSON.parse(Buffer.from(raw, 'base64').toString());
    const job: Job = {
      callId: m.callId, fn: m.fn, maxAttempts: m.maxAttempts, enqueuedAt: m.enqueuedAt, startTimeNs: m.startTimeNs,
      request: { method: m.method, path: m.path, query: m.query, headers: m.headers, body: Buffer.from(data) },
    };
    if (m.callbackUrl) job.callbackUrl = m.callbackUrl;
    return job;
  } catch {
    return undefined;
  }
}

/** State → KV value: the state as JSON on one line, then the encoded outcome if any. */
export function encodeState(s: JobState): Uint8Array {
  const { result, ...rest } = s;
  const line = Buffer.from(JSON.stringify(rest) + '\n');
  return result ? Buffer.concat([line, encodeOutcome(result)]) : line;
}

export function decodeState(v: Uint8Array): JobState {
  const buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const nl = buf.indexOf(10);
  const s = JSON.parse(buf.subarray(0, nl).toString()) as JobState;
  if (buf.length > nl + 1) s.result = decodeOutcome(buf.subarray(nl + 1));
  return s;
}
