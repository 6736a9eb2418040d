/**
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH in cluster mode. Like Redis Cluster, a transaction lives in
 * one slot: the proxy queues the commands itself (answering +QUEUED), refuses a command whose
 * keys leave the transaction's slot with -CROSSSLOT (EXEC then answers -EXECABORT, as Redis
 * does after a queueing error), and at EXEC sends MULTI, the commands and EXEC on a dedicated
 * connection to the slot's master. WATCH opens that connection at once, so the watch is held
 * by the node that will run the EXEC. A MOVED while queueing (the slot moved) makes Redis
 * abort; without WATCH the proxy then runs the transaction once more on the new owner.
 */
import { encodeCommand, errorReply, OK, type RequestParser } from '../../resp/index.js';
import { arityOk, commandKeys, lookupCommand, lookupSubcommand, unknownCommandError, type GetArg } from '../commands/index.js';
import { wrongArity } from '../errors.js';
import { UpstreamConnection, type ReplyTarget } from '../upstream-connection.js';
import type { ClusterNode } from './cluster-node.js';
import type { ClusterRouter } from './cluster-router.js';
import { classifyError, ErrKind, parseRedirect } from './redirect.js';
import { keySlot } from '../../sharding/index.js';

const MULTI = encodeCommand(['MULTI']);
const QUEUED = Buffer.from('+QUEUED\r\n');
const EXECABORT = errorReply('EXECABORT Transaction discarded because of previous errors.');
const CROSSSLOT = errorReply("CROSSSLOT Keys in request don't hash to the same slot");

interface Tx {
  multi: boolean;
  aborted: boolean;
  slot: number;
  queued: Buffer[];
  /** WATCH's dedicated connection (and node), kept until EXEC/DISCARD/UNWATCH. */
  conn: UpstreamConnection | null;
  node: ClusterNode | null;
}

const TX_COMMANDS = new Set(['multi', 'exec', 'discard', 'watch', 'unwatch']);

export class ClusterTransactions {
  private readonly txs = new Map<number, Tx>();

  constructor(private readonly router: ClusterRouter, private readonly opts: { connectTimeoutMs: number; maxReplyBytes: number }) {}

  /**
   * Handles the request when it belongs to a transaction (MULTI & co., or anything queued
   * while in MULTI). Returns false when the splitter should route it normally.
   */
  handle(sid: number, name: string, p: RequestParser, slot: () => ReplyTarget, getArg: GetArg): boolean {
    const tx = this.txs.get(sid);
    if (tx === undefined && !TX_COMMANDS.has(name)) return false;
    if (tx !== undefined && !tx.multi && !TX_COMMANDS.has(name)) return false;
    const reply = (b: Buffer) => slot().onReply(b);
    switch (name) {
      case 'multi':
        if (tx?.multi) { reply(errorReply('ERR MULTI calls can not be nested')); return true; }
        if (tx) tx.multi = true;
        else this.txs.set(sid, { multi: true, aborted: false, slot: -1, queued: [], conn: null, node: null });
        reply(OK);
        return true;
      case 'exec':
        if (!tx?.multi) { reply(errorReply('ERR EXEC without MULTI')); return true; }
        this.txs.delete(sid);
        if (tx.aborted) { this.release(tx); reply(EXECABORT); return true; }
        this.exec(tx, slot(), false);
        return true;
      case 'discard':
        if (!tx?.multi) { reply(errorReply('ERR DISCARD without MULTI')); return true; }
        this.txs.delete(sid);
        this.release(tx);
        reply(OK);
        return true;
      case 'unwatch':
        if (tx?.multi) return this.queue(tx, p, getArg, reply);
        if (tx) { this.txs.delete(sid); this.release(tx); }
        reply(OK);
        return true;
      case 'watch':
        if (tx?.multi) { reply(errorReply('ERR WATCH inside MULTI is not allowed')); return true; }
        this.watch(sid, tx, p, getArg, slot());
        return true;
      default:
        return this.queue(tx!, p, getArg, reply);
    }
  }

  private slotOfKeys(p: RequestParser, getArg: GetArg, name: string): number | 'cross' | 'bad' {
    let spec = lookupCommand(name);
    if (spec === undefined) return 'bad';
    if (spec.subcommands && p.argc >= 2) spec = lookupSubcommand(spec, p.argString(1).toLowerCase()) ?? spec;
    if (!arityOk(spec, p.argc)) return 'bad';
    const keys = commandKeys(spec, p.argc, getArg);
    let slot = -1;
    for (const k of keys) {
      const s = keySlot(p.buffer, p.argStart[k], p.argEnd[k]);
      if (slot >= 0 && s !== slot) return 'cross';
      slot = s;
    }
    return slot;
  }

  private queue(tx: Tx, p: RequestParser, getArg: GetArg, reply: (b: Buffer) => void): boolean {
    const name = p.commandName();
    const slot = this.slotOfKeys(p, getArg, name);
    if (slot === 'bad') {
      tx.aborted = true;
      const spec = lookupCommand(name);
      reply(spec === undefined ? errorReply(unknownCommandError(p.argc, getArg)) : wrongArity(name));
      return true;
    }
    if (slot === 'cross' || (slot >= 0 && tx.slot >= 0 && slot !== tx.slot)) {
      tx.aborted = true;
      reply(CROSSSLOT);
      return true;
    }
    if (slot >= 0) tx.slot = slot;
    tx.queued.push(Buffer.from(p.raw()));
    reply(QUEUED);
    return true;
  }

  private connect(node: ClusterNode): UpstreamConnection {
    const i = node.address.lastIndexOf(':');
    const host = node.address.slice(0, i);
    const port = Number(node.address.slice(i + 1));
    const c = new UpstreamConnection({
      host, port, label: node.address, connectTimeoutMs: this.opts.connectTimeoutMs, maxReplyBytes: this.opts.maxReplyBytes,
      ...this.router.connectionExtras(host, port),
    });
    c.start();
    return c;
  }

  private watch(sid: number, tx: Tx | undefined, p: RequestParser, getArg: GetArg, target: ReplyTarget): void {
    const slot = this.slotOfKeys(p, getArg, 'watch');
    if (slot === 'bad') return target.onReply(wrongArity('watch'));
    if (slot === 'cross' || (tx && tx.slot >= 0 && slot !== tx.slot)) return target.onReply(CROSSSLOT);
    const node = tx?.node ?? this.router.pick(slot as number, false);
    if (node === null) return target.onReply(this.router.unserved(slot as number, false));
    const t: Tx = tx ?? { multi: false, aborted: false, slot: slot as number, queued: [], conn: null, node };
    t.node = node;
    t.conn ??= this.connect(node);
    this.txs.set(sid, t);
    t.conn.send(Buffer.from(p.raw()), target);
  }

  private exec(tx: Tx, target: ReplyTarget, again: boolean): void {
    const node = tx.node ?? this.router.pick(tx.slot >= 0 ? tx.slot : 0, false);
    if (node === null) { this.release(tx); return target.onReply(this.router.unserved(tx.slot, false)); }
    const conn = tx.conn ?? this.connect(node);
    const watched = tx.conn !== null;
    let moved: Buffer | null = null;
    conn.send(MULTI, { onReply() { /* +OK */ } });
    for (const cmd of tx.queued) {
      conn.send(cmd, { onReply(r) { if (moved === null && classifyError(r) === ErrKind.Moved) moved = r; } });
    }
    conn.send(encodeCommand(['EXEC']), {
      onReply: (r) => {
        conn.close();
        if (moved !== null) {
          const m = parseRedirect(moved, node.address.slice(0, node.address.lastIndexOf(':')));
          if (m !== null) {
            const next = this.router.nodeAt(m.host, m.port);
            this.router.moved(m.slot, next);
            if (!watched && !again) return this.exec({ ...tx, node: next, conn: null }, target, true);
          }
        }
        target.onReply(r);
      },
    });
  }

  private release(tx: Tx): void {
    tx.conn?.close();
    tx.conn = null;
  }

  onSessionClosed(sid: number): void {
    const tx = this.txs.get(sid);
    if (tx) { this.txs.delete(sid); this.release(tx); }
  }

  close(): void { for (const sid of [...this.txs.keys()]) this.onSessionClosed(sid); }

  get active(): number { return this.txs.size; }
}
