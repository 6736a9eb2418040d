/**
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH. A transaction runs on a dedicated connection to the shard
 * that owns its keys (Envoy's design, PR 22729): MULTI is answered by the proxy, keyless
 * commands before the first keyed one are held and answered QUEUED, and the first keyed
 * command opens the connection and sends MULTI plus the held commands there. A command whose
 * keys are on another shard is refused at once and flags the transaction, so EXEC answers
 * EXECABORT like Redis does after a queueing error. WATCH pins its shard's dedicated
 * connection; a MULTI after it runs on that same connection, so the backend's own WATCH
 * check decides whether EXEC returns nil.
 */
import { encodeCommand, EMPTY_ARRAY, OK, QUEUED, type RequestParser } from '../../resp/index.js';
import { CommandFlag, resolveCommand } from '../commands/index.js';
import type { ClientState } from '../clients/client-state.js';
import { IGNORE, onReply, shardOfKeys, type FeatureContext } from '../clients/context.js';
import type { DedicatedConnection } from '../dedicated/index.js';
import { errorReply } from '../errors.js';
import type { ClientSession } from '../session.js';
import { arrayElements } from '../fragments.js';
import { resp3Converter, type Converter } from '../resp3/convert.js';

const MULTI = encodeCommand(['MULTI']);
const EXEC = encodeCommand(['EXEC']);
const DISCARD = encodeCommand(['DISCARD']);
const UNWATCH = encodeCommand(['UNWATCH']);

export const EXECABORT = errorReply('EXECABORT Transaction discarded because of previous errors.');
const NESTED = errorReply('ERR MULTI calls can not be nested');
const WATCH_IN_MULTI = errorReply('ERR WATCH inside MULTI is not allowed');
const EXEC_NO_MULTI = errorReply('ERR EXEC without MULTI');
const DISCARD_NO_MULTI = errorReply('ERR DISCARD without MULTI');
const NOT_IN_MULTI = errorReply('ERR Command not allowed inside a transaction');
const WATCH_LOST = errorReply('ERR the proxy lost the connection holding this client\'s WATCH; transaction discarded');
const NO_HOST = errorReply('ERR no backend serves this key');

function crossShard(what: string): Buffer {
  return errorReply(`CROSSSHARD ${what}: a transaction runs on one shard; use hash tags ({...}) to keep its keys together`);
}

/** Commands the proxy refuses inside MULTI (connection state it tracks itself). */
const REFUSED_IN_MULTI = new Set(['select', 'hello', 'client', 'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'auth', 'swapdb', 'monitor', 'scan']);

export class Transaction {
  shard = -1;
  conn: DedicatedConnection | null = null;
  /** The connection is the WATCH's (released together). */
  fromWatch = false;
  /** Raw keyless commands queued before the shard was known. */
  held: Buffer[] = [];
  aborted = false;
  /** RESP3 clients: each queued command's reply converter, applied to EXEC's array. */
  convs: Converter[] = [];
}

/** EXEC's reply for a RESP3 client: each element shaped like its command's RESP3 reply. */
function execConverter(convs: Converter[]): Converter {
  return (reply) => {
    if (reply[0] !== 42) return reply;
    if (reply[1] === 45) return Buffer.from('_\r\n'); // *-1: aborted by WATCH
    const el = arrayElements(reply);
    if (el === null) return reply;
    return Buffer.concat([Buffer.from(`*${el.length}\r\n`), ...el.map((e, i) => (convs[i] ? convs[i](e) : e))]);
  };
}

export class Transactions {
  constructor(private readonly ctx: FeatureContext) {}

  multi(s: ClientSession): void {
    const st = this.ctx.stateOf(s);
    if (st.tx !== null) return s.reply(NESTED);
    st.tx = new Transaction();
    s.reply(OK);
  }

  exec(s: ClientSession): void { s.reply(EXEC_NO_MULTI); }
  discard(s: ClientSession): void { s.reply(DISCARD_NO_MULTI); }

  /** Every command of a client inside MULTI comes here. */
  queue(s: ClientSession, p: RequestParser, st: ClientState): void {
    const tx = st.tx!;
    const name = p.commandName();
    if (name === 'exec') return this.runExec(s, st, tx);
    if (name === 'discard') return this.runDiscard(s, st, tx);
    if (name === 'multi') return s.reply(NESTED);
    if (name === 'watch') return s.reply(WATCH_IN_MULTI);
    const r = resolveCommand(p.argc, (i) => p.arg(i));
    if (r.error !== undefined) return this.abort(s, tx, errorReply(r.error));
    const spec = r.spec;
    const base = spec.container ?? spec.name;
    if (REFUSED_IN_MULTI.has(base) || (spec.flagBits & CommandFlag.PUBSUB) !== 0 && base !== 'publish' && base !== 'spublish' && base !== 'pubsub') {
      return this.abort(s, tx, NOT_IN_MULTI);
    }
    let shard = shardOfKeys(this.ctx.router, spec, p);
    if (shard === -1 && (base === 'publish' || base === 'spublish')) shard = this.ctx.router.shardOf(p.buffer, p.argStart[1], p.argEnd[1]);
    if (shard === -3) return this.abort(s, tx, NO_HOST);
    if (shard === -2) return this.abort(s, tx, crossShard(`keys of this ${name.toUpperCase()} are on different shards`));
    const raw = Buffer.from(p.raw());
    if (st.proto === 3) tx.convs.push(resp3Converter(name, p));
    if (shard === -1) {
      if (tx.conn === null) { tx.held.push(raw); return s.reply(QUEUED); }
      return tx.conn.send(raw, s.slot());
    }
    if (tx.shard >= 0 && shard !== tx.shard) return this.abort(s, tx, crossShard(`this ${name.toUpperCase()} is on another shard than the transaction's earlier keys`));
    if (tx.conn === null) {
      const err = this.open(st, tx, shard);
      if (err !== null) return this.abort(s, tx, err);
    }
    tx.conn!.send(raw, s.slot());
  }

  private abort(s: ClientSession, tx: Transaction, reply: Buffer): void {
    tx.aborted = true;
    s.reply(reply);
  }

  /** Opens the transaction on `shard`: the WATCH's connection, or a fresh one. */
  private open(st: ClientState, tx: Transaction, shard: number): Buffer | null {
    const w = st.watch;
    if (w !== null) {
      if (w.lost) return WATCH_LOST;
      if (w.shard !== shard) return crossShard('the transaction\'s keys are on another shard than the WATCHed keys');
      tx.conn = w.conn;
      tx.fromWatch = true;
    } else {
      const c = this.ctx.pool.acquire(shard, st.db);
      if (Buffer.isBuffer(c)) return c;
      tx.conn = c;
    }
    tx.shard = shard;
    const conn = tx.conn;
    conn.send(MULTI, IGNORE);
    for (const h of tx.held) conn.send(h, IGNORE);
    tx.held = [];
    return null;
  }

  private runExec(s: ClientSession, st: ClientState, tx: Transaction): void {
    st.tx = null;
    const w = st.watch;
    st.watch = null;
    if (tx.aborted || (w !== null && w.lost)) {
      if (tx.conn !== null) this.finish(tx.conn, DISCARD, null);
      else if (w !== null) this.finish(w.conn, UNWATCH, null);
      return s.reply(tx.aborted ? EXECABORT : WATCH_LOST);
    }
    if (tx.conn === null) {
      if (tx.held.length === 0 && w === null) return s.reply(EMPTY_ARRAY);
      st.watch = w; // open() takes the watch's connection
      const err = this.open(st, tx, w !== null ? w.shard : this.ctx.router.anyShard());
      st.watch = null;
      if (err !== null) {
        if (w !== null) this.ctx.pool.release(w.conn, false);
        return s.reply(err);
      }
    }
    this.finish(tx.conn!, EXEC, s, st.proto === 3 ? execConverter(tx.convs) : null);
  }

  private runDiscard(s: ClientSession, st: ClientState, tx: Transaction): void {
    st.tx = null;
    const w = st.watch;
    st.watch = null; // DISCARD also unwatches
    if (tx.conn !== null) return this.finish(tx.conn, DISCARD, s);
    if (w !== null) this.finish(w.conn, UNWATCH, null);
    s.reply(OK);
  }

  /** Sends the closing command; its reply goes to the client (if any), then the connection is returned. */
  private finish(conn: DedicatedConnection, cmd: Buffer, s: ClientSession | null, conv: Converter | null = null): void {
    const slot = s?.slot() ?? null;
    if (slot !== null && conv !== null) slot.conv = conv;
    conn.send(cmd, onReply((reply) => {
      if (slot !== null) slot.onReply(reply);
      this.ctx.pool.release(conn, true);
    }));
  }

  watch(s: ClientSession, p: RequestParser): void {
    const st = this.ctx.stateOf(s);
    if (st.tx !== null) return s.reply(WATCH_IN_MULTI);
    const r = resolveCommand(p.argc, (i) => p.arg(i));
    if (r.error !== undefined) return s.reply(errorReply(r.error));
    const shard = shardOfKeys(this.ctx.router, r.spec, p);
    if (shard === -3) return s.reply(NO_HOST);
    if (shard === -2) return s.reply(crossShard('WATCHed keys are on different shards'));
    let w = st.watch;
    if (w !== null && (w.lost || w.shard !== shard)) {
      if (!w.lost) return s.reply(crossShard('these keys are on another shard than the keys already WATCHed'));
      this.ctx.pool.release(w.conn, false);
      st.watch = w = null;
    }
    if (w === null) {
      const c = this.ctx.pool.acquire(shard, st.db);
      if (Buffer.isBuffer(c)) return s.reply(c);
      const pin = { shard, conn: c, lost: false };
      c.onLost = () => { pin.lost = true; };
      st.watch = w = pin;
    }
    w.conn.send(Buffer.from(p.raw()), s.slot());
  }

  unwatch(s: ClientSession): void {
    const st = s.state;
    const w = st?.watch ?? null;
    if (st === null || w === null) return s.reply(OK);
    st.watch = null;
    if (w.lost) return s.reply(OK);
    this.finish(w.conn, UNWATCH, s);
  }

  /** The client went away: its connections carry MULTI/WATCH state, so they are closed. */
  closed(st: ClientState): void {
    const tx = st.tx;
    st.tx = null;
    if (tx?.conn) this.ctx.pool.release(tx.conn, false);
    if (st.watch !== null) this.ctx.pool.release(st.watch.conn, false);
    st.watch = null;
  }

  /** RESET: like a disconnect, but the connection stays. */
  reset(st: ClientState): void { this.closed(st); }
}
