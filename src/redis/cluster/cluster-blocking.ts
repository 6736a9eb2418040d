/**
 * Blocking commands (BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...) in cluster mode: each
 * call gets a dedicated upstream connection to its slot's master, so a client waiting never
 * holds up the shared pipelined connections. Redis applies its own timeout semantics; the
 * proxy's request timeout does not apply. MOVED/ASK are followed on a new connection; a
 * client that disconnects while blocked closes its connection, releasing the wait upstream.
 */
import { encodeCommand } from '../../resp/index.js';
import { UpstreamConnection, type ReplyTarget } from '../upstream-connection.js';
import type { ClientSession } from '../session.js';
import type { ClusterNode } from './cluster-node.js';
import type { ClusterRouter } from './cluster-router.js';
import { classifyError, ErrKind, parseRedirect } from './redirect.js';

const ASKING = encodeCommand(['ASKING']);
const IGNORE: ReplyTarget = { onReply() { /* ASKING's +OK */ } };

export class ClusterBlocking {
  private readonly bySession = new Map<number, Set<UpstreamConnection>>();
  /** Calls waiting upstream right now. */
  blocked = 0;

  constructor(private readonly router: ClusterRouter, private readonly opts: { connectTimeoutMs: number; maxReplyBytes: number }) {}

  /**
   * `raw` must be owned by the caller (it is kept until the reply). Like Redis, the client's
   * later commands wait until the blocking call is answered (the session is held).
   */
  call(s: ClientSession, raw: Buffer, slot: number, target: ReplyTarget): void {
    const node = this.router.pick(slot, false);
    if (node === null) return target.onReply(this.router.unserved(slot, false));
    s.hold();
    this.run(s.id, raw, node, { onReply(r) { target.onReply(r); s.unhold(); } }, 0, false);
  }

  private run(sid: number, raw: Buffer, node: ClusterNode, target: ReplyTarget, hops: number, asking: boolean): void {
    const [host, port] = [node.address.slice(0, node.address.lastIndexOf(':')), Number(node.address.slice(node.address.lastIndexOf(':') + 1))];
    const conn = new UpstreamConnection({
      host, port, label: node.address, connectTimeoutMs: this.opts.connectTimeoutMs, maxReplyBytes: this.opts.maxReplyBytes,
      ...this.router.connectionExtras(host, port),
    });
    let set = this.bySession.get(sid);
    if (!set) { set = new Set(); this.bySession.set(sid, set); }
    set.add(conn);
    this.blocked++;
    conn.start();
    if (asking) conn.send(ASKING, IGNORE);
    conn.send(raw, {
      onReply: (reply) => {
        this.blocked--;
        const s = this.bySession.get(sid);
        s?.delete(conn);
        if (s && s.size === 0) this.bySession.delete(sid);
        conn.close();
        const kind = classifyError(reply);
        if ((kind === ErrKind.Moved || kind === ErrKind.Ask) && hops < this.router.maxRedirects) {
          const r = parseRedirect(reply, host);
          if (r !== null) {
            const next = this.router.nodeAt(r.host, r.port);
            if (kind === ErrKind.Moved) this.router.moved(r.slot, next);
            else this.router.redirectsAsk++;
            return this.run(sid, raw, next, target, hops + 1, kind === ErrKind.Ask);
          }
        }
        target.onReply(reply);
      },
    });
  }

  /** The client went away: close its waiting connections (Redis forgets the blocked call). */
  onSessionClosed(sid: number): void {
    const set = this.bySession.get(sid);
    if (!set) return;
    this.bySession.delete(sid);
    for (const c of set) c.close();
  }

  close(): void {
    for (const sid of [...this.bySession.keys()]) this.onSessionClosed(sid);
  }
}
