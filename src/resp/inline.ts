/**
 * Inline commands (`PING\r\n`, `SET a "b c"\r\n` as telnet and redis-cli send them), split
 * with the same rules as Redis' sdssplitargs: blanks separate arguments; "double quotes"
 * understand \n \r \t \b \a \xHH and \<any>; 'single quotes' only \'; a closing quote must be
 * followed by a blank or the end of the line; a NUL byte ends the line.
 * Slow path: only used for inline requests.
 */

/** C isspace() in the "C" locale. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Splits buf[s, e) into arguments; null for unbalanced quotes. */
export function splitInlineArgs(buf: Buffer, s: number, e: number): Buffer[] | null {
  const at = (i: number): number => (i < e ? buf[i] : 0);
  const args: Buffer[] = [];
  const scratch = Buffer.allocUnsafe(e - s);
  let p = s;
  for (;;) {
    while (at(p) !== 0 && isSpace(at(p))) p++;
    if (at(p) === 0) return args;
    let len = 0;
    let inDq = false;
    let inSq = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inDq) {
        if (c === 92 && at(p + 1) === 120 && hexVal(at(p + 2)) >= 0 && hexVal(at(p + 3)) >= 0) {
          scratch[len++] = hexVal(at(p + 2)) * 16 + hexVal(at(p + 3));
          p += 3;
        } else if (c === 92 && at(p + 1) !== 0) {
          p++;
          const d = at(p);
          scratch[len++] = d === 110 ? 10 : d === 114 ? 13 : d === 116 ? 9 : d === 98 ? 8 : d === 97 ? 7 : d;
        } else if (c === 34) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          scratch[len++] = c;
        }
      } else if (inSq) {
        if (c === 92 && at(p + 1) === 39) {
          p++;
          scratch[len++] = 39;
        } else if (c === 39) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          scratch[len++] = c;
        }
      } else if (c === 32 || c === 10 || c === 13 || c === 9 || c === 0) {
        done = true;
      } else if (c === 34) {
        inDq = true;
      } else if (c === 39) {
        inSq = true;
      } else {
        scratch[len++] = c;
      }
      if (at(p) !== 0) p++;
    }
    args.push(Buffer.from(scratch.subarray(0, len)));
  }
}
