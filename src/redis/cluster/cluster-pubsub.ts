/**
 * SUBSCRIBE / PSUBSCRIBE in cluster mode. Redis Cluster spreads every PUBLISH over its bus to
 * all nodes, so a subscriber may listen on any node: a subscribing client gets a relay, its own
 * connection to one master. While subscribed, the client's commands go to that connection and
 * every frame from it (confirmations, messages, PONGs, errors) goes back to the client as it
 * is. If the node goes away, the client's connection is closed too, so it knows its
 * subscriptions are gone (as with a direct connection).
 *
 * Leaving subscribed mode: when the node reports zero remaining subscriptions, commands the
 * client pipelined after its UNSUBSCRIBE may already be on the relay (a new SUBSCRIBE, a PING),
 * so the relay cannot close yet. It holds the client (reads nothing more), sends a marker PING
 * behind them, and at the marker's reply closes if still unsubscribed (the client is back to
 * normal routing) or stays if a later SUBSCRIBE made it subscribed again.
 * Sharded pub/sub (SSUBSCRIBE) is not relayed yet.
 */
import net from 'node:net';
import tls from 'node:tls';
import { decodeReply, encodeCommand, ReplyScanner } from '../../resp/index.js';
import { backendError } from '../errors.js';
import type { ClientSession } from '../session.js';
import type { ClusterRouter, ConnectionExtras } from './cluster-router.js';

let markers = 0;

class Relay {
  private readonly sock: net.Socket;
  private readonly scanner = new ReplyScanner({ maxBulkBytes: 512 * 1024 * 1024, maxArrayLength: 1 << 20 });
  private ended = false;
  /** The upstream AUTH reply is still due (checked, never forwarded). */
  private authPending: boolean;
  /** The marker PING in flight after a zero-count confirmation (null: none). */
  private marker: { bulk: Buffer; token: string } | null = null;
  /** Subscriptions left per the node's last confirmation. */
  private count = 1;

  private readonly label: string;

  constructor(host: string, port: number, extras: ConnectionExtras, private readonly s: ClientSession,
    private readonly onEnd: (clientGone: boolean) => void) {
    this.label = `${host}:${port}`;
    this.sock = extras.tls ? tls.connect({ ...extras.tls, host, port }) : net.connect({ host, port });
    this.sock.setNoDelay(true);
    this.authPending = extras.handshake !== undefined;
    if (extras.handshake) this.sock.write(extras.handshake);
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
        if (this.authPending) {
          this.authPending = false;
          if (f[0] === 45 /* - */) {
            this.s.reply(backendError(this.label, `rejected the proxy's credentials (${f.toString('utf8', 1, Math.min(f.length - 2, 200))})`));
            return this.end(false);
          }
          continue;
        }
        if (this.marker !== null && this.isMarkerReply(f)) {
          this.marker = null;
          if (this.count === 0) { this.end(false); this.s.unhold(); return; }
          this.s.unhold();
          continue;
        }
        this.s.reply(Buffer.from(f));
        const c = subscriptionCount(f);
        if (c === null) continue;
        this.count = c;
        if (c === 0 && this.marker === null) {
          const token = `trellis-relay-${++markers}`;
          this.marker = { bulk: Buffer.from(`$${token.length}\r\n${token}\r\n`), token };
          this.s.hold();
          this.sock.write(encodeCommand(['PING', token]));
        }
      }
    } catch {
      this.end(true);
    }
  }

  /** PING's reply: `$token` in normal mode, `*2 pong token` while subscribed. */
  private isMarkerReply(f: Buffer): boolean {
    const m = this.marker!;
    if (f.equals(m.bulk)) return true;
    if (f[0] !== 42 /* * */ || f[1] !== 50 /* 2 */) return false;
    const v = decodeReply(f);
    return v.type === 'array' && v.value !== null && v.value[1]?.type === 'bulk' && v.value[1].value?.toString() === m.token
      && v.value[0].type === 'bulk' && v.value[0].value?.toString() === 'pong';
  }

  /** dropClient: the node connection broke, so the client's subscriptions are lost. */
  end(dropClient: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.sock.destroy();
    this.onEnd(dropClient);
  }
}

/** The remaining-subscriptions count of a (p)(un)subscribe confirmation, else null. */
function subscriptionCount(frame: Buffer): number | null {
  if (frame[0] !== 42 /* * */ || frame[1] !== 51 /* 3 */) return null;
  const v = decodeReply(frame);
  if (v.type !== 'array' || v.value === null || v.value.length !== 3) return null;
  const [kind, , count] = v.value;
  const k = kind.type === 'bulk' && kind.value ? kind.value.toString().toLowerCase() : '';
  if (k !== 'unsubscribe' && k !== 'punsubscribe' && k !== 'subscribe' && k !== 'psubscribe') return null;
  return count.type === 'integer' ? Number(count.value) : null;
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
    const host = node.address.slice(0, i);
    const port = Number(node.address.slice(i + 1));
    const relay = new Relay(host, port, this.router.connectionExtras(host, port), s, (dropClient) => {
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
