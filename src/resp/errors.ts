/**
 * Protocol errors and parser limits. Error texts follow Redis' own wording (networking.c)
 * so a proxy can answer `-ERR <message>` exactly as Redis would before closing the client.
 */
export class RespProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespProtocolError';
  }
}

export interface ParserLimits {
  /** Largest single bulk string (Redis' proto-max-bulk-len). */
  maxBulkBytes: number;
  /** Largest multibulk/aggregate element count. */
  maxArrayLength: number;
  /** Longest inline command line (Redis' PROTO_INLINE_MAX_SIZE); also caps header lines. */
  maxInlineBytes: number;
  /** Deepest nesting accepted in replies. */
  maxDepth: number;
  /**
   * Largest whole request or reply frame (all its bytes); bounds what one parser buffers
   * (like Redis' client-query-buffer-limit, default 1 GiB).
   */
  maxRequestBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ParserLimits> = Object.freeze({
  maxBulkBytes: 512 * 1024 * 1024,
  maxArrayLength: 1024 * 1024,
  maxInlineBytes: 64 * 1024,
  maxDepth: 64,
  maxRequestBytes: 1024 * 1024 * 1024,
});

export function resolveLimits(limits?: Partial<ParserLimits>): ParserLimits {
  const out: ParserLimits = { ...DEFAULT_LIMITS };
  if (limits) {
    for (const k of Object.keys(DEFAULT_LIMITS) as Array<keyof ParserLimits>) {
      const v = limits[k];
      if (v === undefined) continue;
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`parser limit ${k} must be a non-negative integer, got ${v}`);
      out[k] = v;
    }
  }
  // Offsets are kept in Int32Arrays.
  if (out.maxRequestBytes > 0x7fff0000) throw new RangeError('parser limit maxRequestBytes must be below 2 GiB');
  return out;
}

export const ERR_INVALID_BULK_LEN = 'Protocol error: invalid bulk length';
export const ERR_INVALID_MULTIBULK_LEN = 'Protocol error: invalid multibulk length';
export const ERR_BIG_BULK_COUNT = 'Protocol error: too big bulk count string';
export const ERR_BIG_MBULK_COUNT = 'Protocol error: too big mbulk count string';
export const ERR_BIG_INLINE = 'Protocol error: too big inline request';
export const ERR_UNBALANCED_QUOTES = 'Protocol error: unbalanced quotes in request';
export const ERR_INLINE_NUL = 'Protocol error: NUL byte in inline request';
export const ERR_REQUEST_TOO_BIG = 'Protocol error: request exceeds the maximum request size';
export const ERR_EXPECTED_CRLF = 'Protocol error: expected CRLF';

export function expectedDollar(got: number): RespProtocolError {
  return new RespProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(got)}'`);
}
