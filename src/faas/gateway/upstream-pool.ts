/**
 * Keep-alive TCP connections to function instances, per host:port. A connection has one
 * owner at a time (the exchange using it); its socket listeners are attached once and
 * dispatch to the owner, so taking and returning a connection allocates nothing.
 *
 * Reads use one shared buffer (net's `onread`), skipping the per-read allocation and the
 * stream machinery: an owner must copy whatever it keeps (or writes) past the call.
 */
import net from 'node:net';
import { SocketWriter } from '../../net-io/socket-write.js';

export interface UpstreamOwner {
  /** `chunk` is a view of the shared read buffer, valid only during the call. */
  onUpstreamData(chunk: Buffer): void;
  onUpstreamEnd(error: Error | null): void;
  onUpstreamDrain(): void;
}

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class UpstreamConn {
  owner: UpstreamOwner | null = null;
  /** true once the connection has carried an exchange or waited idle (a stale keep-alive socket may fail). */
  reused = false;
  closed = false;
  private error: Error | null = null;

  /** Called by the socket's onread with the shared buffer. */
  read(n: number): void {
    if (this.owner !== null) this.owner.onUpstreamData(READ_BUFFER.subarray(0, n));
    else this.sock.destroy(); // bytes from an idle instance connection: it is out of sync
  }

  /** Writes request heads (and the bodies joined to them). */
  readonly out: SocketWriter;

  constructor(readonly sock: net.Socket, readonly key: string, private readonly pool: UpstreamPool) {
    this.out = new SocketWriter(sock, () => this.owner?.onUpstreamDrain());
    sock.setNoDelay(true);
    sock.on('error', (err) => { this.error = err; });
    sock.on('close', () => {
      this.closed = true;
      const owner = this.owner;
      this.owner = null;
      this.pool.forget(this);
      owner?.onUpstreamEnd(this.error ?? new Error('connection closed by instance'));
    });
    sock.on('end', () => {
      const owner = this.owner;
      if (owner) { this.owner = null; this.closed = true; owner.onUpstreamEnd(null); }
      sock.destroy();
    });
    sock.on('drain', () => this.owner?.onUpstreamDrain());
  }
}

export class UpstreamPool {
  private idle = new Map<string, UpstreamConn[]>();

  constructor(private readonly maxIdlePerInstance = 256) {}

  // The key of the last host:port taken: requests mostly go to the same few instances, and a
  // key built per request would also need its hash computed per request.
  private lastHost = '';
  private lastPort = 0;
  private lastKey = '';

  /** An idle connection to host:port, or a new (connecting) one. */
  take(host: string, port: number, owner: UpstreamOwner, fresh = false): UpstreamConn {
    if (host !== this.lastHost || port !== this.lastPort) {
      this.lastHost = host;
      this.lastPort = port;
      this.lastKey = host + ':' + port;
    }
    const key = this.lastKey;
    if (!fresh) {
      const list = this.idle.get(key);
      if (list !== undefined && list.length > 0) {
        const c = list.pop()!;
        c.owner = owner;
        if (c.sock.isPaused()) c.sock.resume();
        return c;
      }
    }
    const c = this.open(key, host, port);
    c.owner = owner;
    return c;
  }

  /**
   * Opens a connection to host:port ahead of use (an instance that is about to become ready)
   * and keeps it idle, unless one is idle there already.
   */
  preconnect(host: string, port: number): void {
    const key = host + ':' + port;
    if ((this.idle.get(key)?.length ?? 0) > 0) return;
    this.release(this.open(key, host, port));
  }

  private open(key: string, host: string, port: number): UpstreamConn {
    let c: UpstreamConn | undefined;
    const sock = net.connect({ port, host, onread: { buffer: READ_BUFFER, callback: (n: number) => { c!.read(n); return true; } } });
    c = new UpstreamConn(sock, key, this);
    return c;
  }

  /** Returns a connection whose exchange completed cleanly. */
  release(c: UpstreamConn): void {
    c.owner = null;
    if (c.closed) return;
    c.reused = true;
    let list = this.idle.get(c.key);
    if (list === undefined) { list = []; this.idle.set(c.key, list); }
    if (list.length >= this.maxIdlePerInstance) { c.sock.destroy(); return; }
    list.push(c);
  }

  /** Drops a connection that must not be reused. */
  discard(c: UpstreamConn): void {
    c.owner = null;
    c.closed = true;
    c.sock.destroy();
  }

  forget(c: UpstreamConn): void {
    const list = this.idle.get(c.key);
    if (!list) return;
    const i = list.indexOf(c);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.idle.delete(c.key);
  }

  /** Closes idle connections to one instance (it is going away). */
  dropInstance(host: string, port: number): void {
    const list = this.idle.get(host + ':' + port);
    for (const c of [...(list ?? [])]) c.sock.destroy();
  }

  close(): void {
    for (const list of [...this.idle.values()]) for (const c of [...list]) c.sock.destroy();
    this.idle.clear();
  }
}
