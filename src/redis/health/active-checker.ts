/**
 * Active health checking of one backend, as Envoy's redis health checker: every `interval`
 * send PING (or `EXISTS key`, where a present key means "drain me") on a dedicated connection
 * and expect the answer within `timeout`. A fresh connection first sends the upstream AUTH.
 * Consecutive results are counted against healthy / unhealthy thresholds by the caller.
 */
import net from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import { encodeCommand, ReplyScanner } from '../../resp/index.js';
import { handshakeSubject } from '../auth/upstream-auth.js';

export type CheckResult = { ok: true } | { ok: false; reason: string };

export interface ActiveCheckOptions {
  host: string;
  port: number;
  timeoutMs: number;
  key?: string;
  /** Sent first on each new connection (AUTH, SELECT redis_db), each reply checked. */
  handshake?: readonly Buffer[];
  tls?: ConnectionOptions;
}

export class ActiveChecker {
  private sock: net.Socket | null = null;
  private scanner = new ReplyScanner({ maxBulkBytes: 1 << 20, maxArrayLength: 1024 });
  private waiting: Array<(reply: Buffer | Error) => void> = [];
  private readonly probe: Buffer;

  constructor(private readonly o: ActiveCheckOptions) {
    this.probe = o.key !== undefined ? encodeCommand(['EXISTS', o.key]) : encodeCommand(['PING']);
  }

  /** One check; never throws. */
  async check(): Promise<CheckResult> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => { this.reset(); resolve({ ok: false, reason: `no answer within ${this.o.timeoutMs} ms` }); }, this.o.timeoutMs);
    });
    try {
      return await Promise.race([this.run(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(): Promise<CheckResult> {
    try {
      const fresh = this.sock === null;
      if (fresh) await this.connect();
      if (fresh) {
        for (const cmd of this.o.handshake ?? []) {
          const r = await this.send(cmd);
          if (r[0] === 45) { this.reset(); return { ok: false, reason: `upstream ${handshakeSubject(cmd)} rejected: ${text(r)}` }; }
        }
      }
      const r = await this.send(this.probe);
      if (r[0] === 45) return { ok: false, reason: `error reply: ${text(r)}` };
      if (this.o.key !== undefined) {
        return r.toString('latin1') === ':0\r\n' ? { ok: true } : { ok: false, reason: `drain key "${this.o.key}" present` };
      }
      return r.toString('latin1') === '+PONG\r\n' ? { ok: true } : { ok: false, reason: `unexpected reply ${JSON.stringify(text(r))}` };
    } catch (err) {
      this.reset();
      return { ok: false, reason: (err as Error).message };
    }
  }

  private connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const o = this.o;
      const sock = o.tls ? tls.connect({ ...o.tls, host: o.host, port: o.port }) : net.connect({ host: o.host, port: o.port });
      this.sock = sock;
      this.scanner = new ReplyScanner({ maxBulkBytes: 1 << 20, maxArrayLength: 1024 });
      sock.setNoDelay(true);
      sock.once(o.tls ? 'secureConnect' : 'connect', () => resolve());
      sock.on('data', (chunk: Buffer) => {
        this.scanner.feed(chunk);
        let f: Buffer | null;
        while ((f = this.scanner.nextFrame()) !== null) this.waiting.shift()?.(f);
      });
      sock.on('error', (err) => { reject(err); this.fail(new Error(`connection error: ${err.message}`)); });
      sock.on('close', () => { reject(new Error('connection closed')); this.fail(new Error('connection closed')); if (this.sock === sock) this.sock = null; });
    });
  }

  private send(cmd: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting.push((r) => (r instanceof Error ? reject(r) : resolve(r)));
      this.sock!.write(cmd);
    });
  }

  private fail(err: Error): void {
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f(err);
  }

  private reset(): void {
    const s = this.sock;
    this.sock = null;
    s?.destroy();
    this.fail(new Error('reset'));
  }

  close(): void { this.reset(); }
}

function text(r: Buffer): string {
  return r.toString('utf8', 1, Math.min(r.length - 2, 200));
}
