/** Test helpers: ways to cut a byte stream into chunks, and drivers that collect parse results. */
import { RequestParser, ReplyScanner } from '../../src/resp/index.js';

/** Cuts `data` at the given sorted positions. */
export function cutAt(data: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    if (c <= prev || c >= data.length) continue;
    out.push(data.subarray(prev, c));
    prev = c;
  }
  out.push(data.subarray(prev));
  return out;
}

/** Deterministic pseudo-random chunk sizes in [1, max] (xorshift, seeded). */
export function randomChunks(data: Buffer, seed: number, max: number): Buffer[] {
  let x = seed | 1;
  const cuts: number[] = [];
  let p = 0;
  for (;;) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    p += 1 + ((x >>> 0) % max);
    if (p >= data.length) break;
    cuts.push(p);
  }
  return cutAt(data, cuts);
}

/** Every way of cutting data in two, plus byte-at-a-time, plus whole. */
export function allSplits(data: Buffer): Buffer[][] {
  const ways: Buffer[][] = [[data]];
  for (let i = 1; i < data.length; i++) ways.push(cutAt(data, [i]));
  ways.push(cutAt(data, Array.from({ length: data.length }, (_, i) => i)));
  return ways;
}

export interface ParsedCommand { args: string[]; raw: string; inline: boolean }

/** Feeds chunks one by one, draining complete commands after each; args as latin1 strings for easy comparison. */
export function parseChunks(chunks: Buffer[], parser = new RequestParser()): ParsedCommand[] {
  const out: ParsedCommand[] = [];
  for (const c of chunks) {
    parser.feed(c);
    let cmd;
    while ((cmd = parser.next())) {
      out.push({ args: cmd.args.map((a) => a.toString('latin1')), raw: cmd.raw.toString('latin1'), inline: cmd.inline });
    }
  }
  return out;
}

export function scanChunks(chunks: Buffer[], scanner = new ReplyScanner()): Array<{ frame: Buffer; type: number }> {
  const out: Array<{ frame: Buffer; type: number }> = [];
  for (const c of chunks) {
    scanner.feed(c);
    let f;
    while ((f = scanner.nextFrame())) out.push({ frame: Buffer.from(f), type: scanner.lastType });
  }
  return out;
}
