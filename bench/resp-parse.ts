/**
 * RESP codec micro-benchmark: ns per parsed request (GET/SET pipelines) and per scanned reply,
 * against ioredis' reply parser (redis-parser) on the same bytes, interleaved rounds, medians of
 * process CPU time per item.
 * Run: node --import tsx bench/resp-parse.ts   (numbers are noisy on a shared machine)
 */
import { createRequire } from 'node:module';
import { decodeReply, encodeCommand, ReplyScanner, RequestParser } from '../src/resp/index.js';

const require = createRequire(import.meta.url);
const RedisParser = require('redis-parser') as new (opts: {
  returnReply(r: unknown): void; returnError(e: unknown): void; returnBuffers?: boolean;
}) => { execute(b: Buffer): void };

const CHUNK = 16 * 1024;
const ROUNDS = Number(process.env.ROUNDS ?? 9);

function chunks(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += CHUNK) out.push(data.subarray(i, i + CHUNK));
  return out;
}

function requests(kind: 'get' | 'set', n: number): Buffer {
  const value = 'x'.repeat(32); // -d 32 like redis-benchmark's default payload... plus key:__rand_int__ keys
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const key = `key:${String(i % 100000).padStart(12, '0')}`;
    parts.push(encodeCommand(kind === 'get' ? ['GET', key] : ['SET', key, value]));
  }
  return Buffer.concat(parts);
}

function replies(n: number): Buffer {
  const mix = [
    '+OK\r\n', `$32\r\n${'v'.repeat(32)}\r\n`, ':12345\r\n', '$-1\r\n',
    `*3\r\n$5\r\nhello\r\n:1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n`, `$1000\r\n${'w'.repeat(1000)}\r\n`,
  ];
  let s = '';
  for (let i = 0; i < n; i++) s += mix[i % mix.length];
  return Buffer.from(s);
}

type Case = { name: string; perItem: number; run: () => number };

/** CPU time (user+system) rather than wall time: less distorted when other processes share the cores. */
function timeNs(fn: () => number): { ns: number; items: number } {
  const t0 = process.cpuUsage();
  const items = fn();
  const d = process.cpuUsage(t0);
  return { ns: (d.user + d.system) * 1000, items };
}

const N = 100_000;
const getData = chunks(requests('get', N));
const setData = chunks(requests('set', N));
const replyData = chunks(replies(N));
const frameList: Buffer[] = [];
{
  const s = new ReplyScanner();
  for (const c of replyData) { s.feed(c); let f; while ((f = s.nextFrame())) frameList.push(f); }
}

function parseTrellis(data: Buffer[]): number {
  const p = new RequestParser();
  let n = 0;
  let sink = 0;
  for (const c of data) {
    p.feed(c);
    while (p.parseNext()) {
      sink += p.commandName().length + p.argEnd[1] - p.argStart[1];
      n++;
    }
  }
  if (sink === 0) throw new Error('nothing parsed');
  return n;
}

function parseRedisParser(data: Buffer[]): number {
  let n = 0;
  const p = new RedisParser({ returnReply: () => { n++; }, returnError: () => {}, returnBuffers: true });
  for (const c of data) p.execute(c);
  return n;
}

function scanTrellis(data: Buffer[]): number {
  const s = new ReplyScanner();
  let n = 0;
  for (const c of data) {
    s.feed(c);
    while (s.nextFrame() !== null) n++;
  }
  return n;
}

function scanTrellisOffsets(data: Buffer[]): number {
  const s = new ReplyScanner();
  let n = 0;
  for (const c of data) {
    s.feed(c);
    while (s.scan()) n++;
  }
  return n;
}

function decodeTrellis(): number {
  let n = 0;
  for (const f of frameList) { decodeReply(f); n++; }
  return n;
}

const cases: Case[] = [
  { name: 'request GET  trellis RequestParser', perItem: N, run: () => parseTrellis(getData) },
  { name: 'request GET  redis-parser (ioredis)', perItem: N, run: () => parseRedisParser(getData) },
  { name: 'request SET  trellis RequestParser', perItem: N, run: () => parseTrellis(setData) },
  { name: 'request SET  redis-parser (ioredis)', perItem: N, run: () => parseRedisParser(setData) },
  { name: 'reply scan   trellis nextFrame()', perItem: N, run: () => scanTrellis(replyData) },
  { name: 'reply scan   trellis scan() offsets', perItem: N, run: () => scanTrellisOffsets(replyData) },
  { name: 'reply decode trellis decodeReply', perItem: N, run: () => decodeTrellis() },
  { name: 'reply decode redis-parser (ioredis)', perItem: N, run: () => parseRedisParser(replyData) },
];

for (const c of cases) for (let i = 0; i < 3; i++) c.run(); // warm up
const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const c of cases) {
    const { ns, items } = timeNs(c.run);
    if (items !== c.perItem) throw new Error(`${c.name}: ${items} items, expected ${c.perItem}`);
    samples.get(c.name)!.push(ns / items);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const result = new Map(cases.map((c) => [c.name, median(samples.get(c.name)!)]));
console.log(`RESP codec micro-benchmark: ${N} items per round, ${CHUNK}-byte chunks, median CPU time of ${ROUNDS} interleaved rounds`);
for (const c of cases) console.log(`${c.name.padEnd(40)} ${result.get(c.name)!.toFixed(1).padStart(8)} ns/item`);
const ratio = (a: string, b: string) => (result.get(b)! / result.get(a)!).toFixed(2);
console.log(`speed-up vs redis-parser (>1 = Trellis faster; redis-parser always fully decodes): GET ${ratio('request GET  trellis RequestParser', 'request GET  redis-parser (ioredis)')}x, ` +
  `SET ${ratio('request SET  trellis RequestParser', 'request SET  redis-parser (ioredis)')}x, ` +
  `reply framing nextFrame() ${ratio('reply scan   trellis nextFrame()', 'reply decode redis-parser (ioredis)')}x / scan() ${ratio('reply scan   trellis scan() offsets', 'reply decode redis-parser (ioredis)')}x, ` +
  `reply decode ${ratio('reply decode trellis decodeReply', 'reply decode redis-parser (ioredis)')}x`);
console.log('reference: twemproxy spends ~12 µs of CPU per proxied command (issue 2)');
