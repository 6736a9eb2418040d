/** Byte encodings shared by the drivers: outcomes and job envelopes. */
import type { JobOutcome } from './types.js';

/** X-Start-Time format: Unix time in nanoseconds, as a decimal string. */
export function nowNs(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString();
}

/** Outcome → bytes: a JSON header line, a newline, then the raw body. */
export function encodeOutcome(o: JobOutcome): Buffer {
  const meta = JSON.stringify({
    statusCode: o.statusCode, headers: o.headers, durationMs: o.durationMs, startedAt: o.startedAt,
    ...(o.error ? { error: o.error } : {}),
  });
  return Buffer.concat([Buffer.from(meta + '\n'), o.body]);
}

export function decodeOutcome(b: Uint8Array): JobOutcome {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const nl = buf.indexOf(10);
  const meta = JSON.parse(buf.subarray(0, nl).toString()) as Omit<JobOutcome, 'body'>;
  return { ...meta, body: Buffer.from(buf.subarray(nl + 1)) };
}
