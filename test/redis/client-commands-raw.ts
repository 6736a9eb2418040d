/** A raw RESP2/RESP3 test client on src/resp's decoder (ioredis does not speak RESP3). */
import net from 'node:net';
import { encodeCommand, ReplyDecoder, type RespValue } from '../../src/resp/index.js';

export type Plain = string | number | bigint | boolean | null | { error: string } | { double: number } | { set: Plain[] } | { map: Array<[Plain, Plain]> } | { push: Plain[] } | Plain[];

export function plain(v: RespValue): Plain {
  switch (v.type) {
    case 'simple': return v.value;
    case 'error': case 'bulkError': return { error: v.value };
    case 'integer': return v.value;
    case 'bulk': return v.value === null ? null : v.value.toString();
    case 'array': return v.value === null ? null : v.value.map(plain);
    case 'null': return null;
    case 'double': return { double: v.value };
    case 'boolean': return v.value;
    case 'bignum': return v.value;
    case 'verbatim': return v.value.toString();
    case 'map': return { map: v.value.map(([k, x]) => [plain(k), plain(x)] as [Plain, Plain]) };
    case 'set': return { set: v.value.map(plain) };
    case 'push': return { push: v.value.map(plain) };
  }
}

export class RawClient {
  private readonly dec = new ReplyDecoder();
  private readonly frames: RespValue[] = [];
  private readonly pushes: RespValue[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  /** Raw bytes of every frame's first byte, in order (to check RESP3 types). */
  readonly types: string[] = [];

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (c: Buffer) => {
      this.dec.feed(c);
      for (let v = this.dec.next(); v !== undefined; v = this.dec.next()) (v.type === 'push' ? this.pushes : this.frames).push(v);
      this.wake();
    });
    sock.on('close', () => { this.closed = true; this.wake(); });
    sock.on('error', () => {});
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(...args: Array<string | Buffer>): void { this.sock.write(encodeCommand(args)); }

  async next(timeoutMs = 10_000): Promise<Plain> { return plain(await this.take(this.frames, timeoutMs)); }
  async nextPush(timeoutMs = 10_000): Promise<Plain> { return plain(await this.take(this.pushes, timeoutMs)); }
  async nextRaw(timeoutMs = 10_000): Promise<RespValue> { return this.take(this.frames, timeoutMs); }

  private async take(q: RespValue[], timeoutMs: number): Promise<RespValue> {
    const deadline = Date.now() + timeoutMs;
    while (q.length === 0) {
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a reply');
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return q.shift()!;
  }

  /** Sends and waits for the reply. */
  async call(...args: Array<string | Buffer>): Promise<Plain> {
    this.write(...args);
    return this.next();
  }

  get pending(): number { return this.frames.length; }

  close(): void { this.sock.destroy(); }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
