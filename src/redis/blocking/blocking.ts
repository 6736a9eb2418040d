/**
 * Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN/MAX, BLMPOP, BZMPOP,
 * XREAD/XREADGROUP BLOCK, WAIT-free): each call waits on its own dedicated connection to the
 * shard owning its keys, so no other client's requests queue behind it (twemproxy #519), and
 * the proxy's request timeout does not apply: the backend applies Redis' own timeout
 * semantics (0 = forever, fractional seconds). The connection's backend CLIENT ID is asked
 * first, so CLIENT UNBLOCK through the proxy unblocks it on the backend (no reply is lost).
 * A client that disconnects while blocked closes the connection, which ends the wait. Like
 * Redis, the proxy reads no further commands of a blocked client until its call is answered.
 */
import { CROSSSHARD, errorReply } from '../errors.js';
import { encodeCommand, type RequestParser } from '../../resp/index.js';
import type { CommandSpec } from '../commands/index.js';
import type { BlockedCall } from '../clients/client-state.js';
import { onReply, shardOfKeys, type FeatureContext } from '../clients/context.js';
import type { ClientSession } from '../session.js';

const CLIENT_ID = encodeCommand(['CLIENT', 'ID']);
const NO_HOST = errorReply('ERR no backend serves this key');

export class BlockingCommands {
  /** Clients blocked through the proxy now (INFO clients blocked_clients). */
  blocked = 0;
  total = 0;

  constructor(private readonly ctx: FeatureContext) {}

  run(s: ClientSession, p: RequestParser, spec: CommandSpec): void {
    const ctx = this.ctx;
    let shard = shardOfKeys(ctx.router, spec, p);
    if (shard === -2) return s.reply(CROSSSHARD);
    if (shard === -3) return s.reply(NO_HOST);
    if (shard === -1) shard = ctx.router.anyShard();
    const st = ctx.stateOf(s);
    const c = ctx.pool.acquire(shard, st.db);
    if (Buffer.isBuffer(c)) return s.reply(c);
    const call: BlockedCall = { shard, conn: c, upstreamId: c.upstreamId, command: spec.name };
    if (c.upstreamId === 0) {
      c.send(CLIENT_ID, onReply((r) => {
        if (r[0] === 58) call.upstreamId = c.upstreamId = Number(r.toString('latin1', 1, r.length - 2));
      }));
    }
    const slot = s.slot();
    st.blocked = call;
    this.blocked++;
    this.total++;
    s.hold(); // later commands of this client wait, as on Redis
    c.send(Buffer.from(p.raw()), onReply((reply) => {
      this.blocked--;
      if (st.blocked === call) st.blocked = null;
      slot.onReply(reply);
      ctx.pool.release(c, !c.closed && !s.closed);
      queueMicrotask(() => s.unhold()); // not from inside the connection's reply loop
    }));
  }

  /**
   * CLIENT UNBLOCK for a proxy client: the backend unblocks the dedicated connection, and the
   * blocked call then answers nil (TIMEOUT) or -UNBLOCKED (ERROR) as Redis would.
   */
  unblock(s: ClientSession, target: ClientSession | undefined, mode: 'TIMEOUT' | 'ERROR'): void {
    const call = target?.state?.blocked ?? null;
    if (call === null || call.upstreamId === 0) return s.reply(Buffer.from(':0\r\n'));
    const b = this.ctx.router.backends.find((x) => x.address === call.conn.address);
    if (b === undefined) return s.reply(Buffer.from(':0\r\n'));
    b.send(s.id, encodeCommand(['CLIENT', 'UNBLOCK', String(call.upstreamId), mode]), s.slot());
  }

  /** The client went away while blocked: closing the connection ends the backend's wait. */
  closed(s: ClientSession): void {
    const call = s.state?.blocked ?? null;
    if (call !== null) call.conn.close();
  }
}
