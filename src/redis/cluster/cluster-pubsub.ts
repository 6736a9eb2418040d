/**
 * SUBSCRIBE / PSUBSCRIBE in cluster mode. Redis Cluster spreads every PUBLISH over its bus to
 * all nodes, so a subscriber may listen on any node: a subscribing client gets a relay, its own
 * connection to one master. While subscribed, the client's commands go to that connection and
 * every frame from it (confirmations, messages, PONGs, errors) goes back to the client as it
 * is. When the node reports zero remaining subscriptions the relay closes and the client is
 * back in normal mode. If the node goes away, the client's connection is closed too, so it
 * knows its subscriptions are gone (as with a direct connection).
 * Sharded pub/sub (SSUBSCRIBE) is not relayed yet.
 */
import net from 'node:net';
import { decodeReply, ReplyScanner } from '../../resp/index.js';
import type { ClientSession } from '../session.js';
import type { ClusterRouter } from './cluster-router.js';

class Relay {
  private readonly sock: net.Socket;
  private readonly scanner = new ReplyScanner({ maxBulkBytes: 512 * 1024 * 1024, maxArrayLength: 1 << 20 });
  private ended = false;

  constructor(host: string, port: number, private readonly s: ClientSession, private readonly onEnd: (clientGone: boolean) => void) {
    this.sock = net.connect({ host, port });
    this.sock.setNoDelay(true);
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.sock.on('error', () => { /* 'close' follows */ });
    this.sock.on('close', () => this.end(true));
  }

  send(raw: Buffer): void { this.sock.write(raw); }

  private onData(chunk: Buffer): void {
    try {
      this.scanner.feed(chunk);
      let f: Buffer | null;
      while ((f = this.scanner.nextFrame()) !== null) {
        this.s.reply(Buffer.from(f));
        if (leftSubscribedMode(f)) return this.end(false);
      }
    } catch {
      this.end(true);
    }
  }

  /** dropClient: the node connection broke, so the client's subscriptions are lost. */
  end(dropClient: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.sock.destroy();
    this.onEnd(dropClient);
  }
}

/** An unsubscribe/punsubscribe confirmation whose remaining count is 0. */
function leftSubscribedMode(frame: Buffer): boolean {
  if (frame[0] !== 42 /* * */ || frame[1] !== 51 /* 3 */) return false;
  const v = decodeReply(frame);
  if (v.type !== 'array' || v.value === null || v.value.length !== 3) return false;
  const [kind, , count] = v.value;
  const k = kind.type === 'bulk' && kind.value ? kind.value.toString().toLowerCase() : '';
  return (k === 'unsubscribe' || k === 'punsubscribe') && count.type === 'integer' && Number(count.value) === 0;
}

export class ClusterPubSub {
  private readonly relays = new Map<number, Relay>();

  constructor(private readonly router: ClusterRouter) {}

  get size(): number { return this.relays.size; }

  subscribed(sid: number): boolean { return this.relays.has(sid); }

  /** The client subscribes: relay `raw` (copied) over a new connection to one master. */
  subscribe(s: ClientSession, raw: Buffer): void {
    const existing = this.relays.get(s.id);
    if (existing) return existing.send(Buffer.from(raw));
    const masters = this.router.masters();
    const node = masters.find((m) => m.up) ?? masters[0];
    if (node === undefined) return s.reply(this.router.unserved(0, false));
    const i = node.address.lastIndexOf(':');
    const relay = new Relay(node.address.slice(0, i), Number(node.address.slice(i + 1)), s, (dropClient) => {
      if (this.relays.get(s.id) === relay) this.relays.delete(s.id);
      if (dropClient && !s.closed) s.socket.destroy();
    });
    this.relays.set(s.id, relay);
    relay.send(Buffer.from(raw));
  }

  /** A command of a subscribed client: the node answers it (or refuses it, in Redis' words). */
  forward(s: ClientSession, raw: Buffer): void { this.relays.get(s.id)?.send(Buffer.from(raw)); }

  onSessionClosed(sid: number): void { this.relays.get(sid)?.end(false); }

  close(): void { for (const r of [...this.relays.values()]) r.end(false); }
}
