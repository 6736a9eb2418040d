/**
 * An upstream connection owned by one purpose (a client's transaction, a blocking call, a
 * database other than 0, a pub/sub subscriber): never shared with the multiplexed pool, so
 * state set on it (MULTI, WATCH, SELECT, SUBSCRIBE) and waits on it (BLPOP) affect nobody else.
 * Handshake commands (upstream AUTH, SELECT n) go first; their replies are checked, not
 * forwarded. It does not reconnect: when it breaks, everything outstanding gets an error
 * and the owner is told (onClose), since the state it carried is gone with it.
 */
import net from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import { ReplyScanner } from '../../resp/index.js';
import { backendError } from '../errors.js';
import { Fifo } from '../fifo.js';
import type { ReplyTarget } from '../upstream-connection.js';

export interface DedicatedTarget {
  host: string;
  port: number;
  label: string;
  connectTimeoutMs: number;
  maxReplyBytes: number;
  /** Commands sent first (AUTH, SELECT); an error reply to any of them closes the connection. */
  handshake: Buffer[];
  tls?: ConnectionOptions;
}

const HANDSHAKE = Symbol('handshake');
type Pending = ReplyTarget | typeof HANDSHAKE;

export class DedicatedConnection {
  private readonly sock: net.Socket;
  private readonly scanner: ReplyScanner;
  private readonly pending = new Fifo<Pending>(16);
  private out: Buffer[] = [];
  private connected = false;
  private connectTimer: NodeJS.Timeout | null;
  closed = false;
  /** Why it closed (an error reply text), for the owner's error message. */
  closeReason: Buffer | null = null;
  /** Every frame after the handshake goes here instead of the FIFO (pub/sub subscriber connections). */
  onFrame: ((frame: Buffer) => void) | null = null;
  /** The owner's hook: called once when the connection closes for any reason (also after close()). */
  onLost: (() => void) | null = null;
  /** The pool's bookkeeping hook (called after onLost). */
  onClose: (() => void) | null = null;
  /** Free-form owner tag (pool bookkeeping). */
  key = '';
  /** The backend's host:port. */
  address = '';
  db = 0;
  /** The backend's CLIENT ID of this connection, once asked (0 = unknown). */
  upstreamId = 0;

  constructor(readonly target: DedicatedTarget) {
    this.scanner = new ReplyScanner({ maxBulkBytes: target.maxReplyBytes, maxArrayLength: 1 << 30 });
    const t = target;
    const sock = t.tls ? tls.connect({ ...t.tls, host: t.host, port: t.port }) : net.connect({ host: t.host, port: t.port });
    this.sock = sock;
    sock.setNoDelay(true);
    for (const h of t.handshake) { this.pending.push(HANDSHAKE); this.out.push(h); }
    this.connectTimer = setTimeout(() => this.fail(backendError(t.label, 'connect timed out')), t.connectTimeoutMs);
    sock.once(t.tls ? 'secureConnect' : 'connect', () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      this.connected = true;
      this.flush();
    });
    sock.on('data', (c: Buffer) => this.onData(c));
    sock.on('error', () => { /* close follows */ });
    sock.on('close', () => this.fail(backendError(t.label, 'unavailable')));
  }

  /** Requests not yet answered (handshake included). */
  get outstanding(): number { return this.pending.length; }

  send(request: Buffer, target: ReplyTarget): void {
    if (this.closed) { target.onReply(this.closeReason ?? backendError(this.target.label, 'unavailable')); return; }
    this.pending.push(target);
    // held across event-loop turns until connected: copy out of the client's input buffer
    this.out.push(this.connected ? request : Buffer.from(request));
    if (this.connected && this.out.length === 1) queueMicrotask(() => this.flush());
  }

  /** Sends without expecting a FIFO reply (subscriber connections: replies arrive as frames). */
  write(request: Buffer): void {
    if (this.closed) return;
    this.out.push(request);
    if (this.connected && this.out.length === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    if (this.closed || !this.connected || this.out.length === 0) return;
    const data = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out);
    this.out = [];
    this.sock.write(data);
  }

  private onData(chunk: Buffer): void {
    const sc = this.scanner;
    try {
      sc.feed(chunk);
      let f: Buffer | null;
      while ((f = sc.nextFrame()) !== null) {
        const t = this.pending.peek();
        if (t === HANDSHAKE) {
          this.pending.shift();
          if (f[0] === 45) return this.fail(backendError(this.target.label, `refused the connection setup (${f.toString('utf8', 1, Math.min(f.length - 2, 200))})`));
          continue;
        }
        if (this.onFrame !== null) { this.onFrame(f); continue; }
        if (t === undefined) return this.fail(backendError(this.target.label, 'sent a reply without a request'));
        this.pending.shift();
        t.onReply(f);
        if (this.closed) return;
      }
    } catch (err) {
      this.fail(backendError(this.target.label, `protocol error (${(err as Error).message})`));
    }
  }

  /** Closes the connection; outstanding requests get `reason`. */
  close(reason?: Buffer): void { this.fail(reason ?? backendError(this.target.label, 'connection closed by the proxy')); }

  private fail(reason: Buffer): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.sock.destroy();
    this.out = [];
    for (let t = this.pending.shift(); t !== undefined; t = this.pending.shift()) if (t !== HANDSHAKE) t.onReply(reason);
    const lost = this.onLost;
    const cb = this.onClose;
    this.onLost = this.onClose = null;
    if (lost) lost();
    if (cb) cb();
  }
}
