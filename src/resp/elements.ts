/**
 * Elements of a complete aggregate reply as subarrays of its original bytes, without decoding
 * them (for merging fan-out replies such as MGET parts).
 */
import { DEFAULT_LIMITS, RespProtocolError } from './errors.js';
import { ReplyScanner } from './reply-scanner.js';

const newScanner = () => new ReplyScanner({ maxArrayLength: 0x7fffffff, maxBulkBytes: DEFAULT_LIMITS.maxRequestBytes });
let scanner = newScanner();

function fail(what: string): never {
  throw new RespProtocolError(`Protocol error: ${what}`);
}

/**
 * Elements of an aggregate frame (`*`, `~`, `>`; `%` gives keys and values interleaved) as
 * subarrays of `frame`; null for a null array (`*-1` or `_`). Throws RespProtocolError when
 * the frame is not an aggregate, is truncated or has trailing bytes.
 */
export function arrayElements(frame: Buffer): Buffer[] | null {
  const t = frame[0];
  if (t === 95) return null;
  if (t !== 42 && t !== 126 && t !== 62 && t !== 37) {
    fail(`expected an array reply, got '${frame.toString('latin1', 0, Math.min(frame.length, 40)).trim()}'`);
  }
  let i = 1;
  const neg = frame[i] === 45;
  if (neg) i++;
  let n = 0;
  while (i < frame.length && frame[i] >= 48 && frame[i] <= 57) n = n * 10 + frame[i++] - 48;
  if (frame[i] !== 13 || frame[i + 1] !== 10 || (neg && (n !== 1 || t !== 42))) fail('invalid multibulk length');
  if (neg) return null;
  if (t === 37) n *= 2;
  if (n * 3 > frame.length) fail('truncated array reply'); // every element takes >= 3 bytes
  const out: Buffer[] = new Array(n);
  if (n === 0) {
    if (i + 2 !== frame.length) fail('trailing bytes after array reply');
    return out;
  }
  const s = scanner;
  try {
    s.feed(frame.subarray(i + 2));
    for (let k = 0; k < n; k++) {
      const f = s.nextFrame();
      if (f === null) fail('truncated array reply');
      out[k] = f;
    }
    if (s.bufferedBytes() !== 0) fail('trailing bytes after array reply');
  } catch (e) {
    scanner = newScanner(); // leave no half-scanned state behind
    throw e;
  }
  return out;
}
