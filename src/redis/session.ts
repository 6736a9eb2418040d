/**
 * One client connection: parses pipelined requests, hands each to the command splitter, and
 * returns replies in the client's order even when backends answer out of order (a linked
 * FIFO of reply slots). Replies are written once per event-loop turn (flush scheduler);
 * original reply bytes are written as they came from the backend.
 */
import cluster from 'node:cluster';
import type net from 'node:net';
import { RequestParser, RespProtocolError, type ParserLimits } from '../resp/index.js';
import { errorReply } from './errors.js';
import { scheduleFlush, type Flushable } from './flush-scheduler.js';
import type { SessionGovernance } from './governance/hooks.js';
import type { ReplyTarget } from './upstream-connection.js';
import type { ClientState } from './clients/client-state.js';
import { readAcceptedInto } from '../net-io/socket-read.js';
import { SocketWriter } from '../net-io/socket-write.js';
import { OutQueue } from './out-queue.js';

/** A place in the client's reply order; filled by a backend reply or a merged reply. */
export class Slot implements ReplyTarget {
  reply: Buffer | null = null;
  next: Slot | null = null;
  /** Governance bookkeeping copied from the session's current request (stat row, start time, bytes, extra). */
  stat = -1;
  t0 = 0;
  bytes = 0;
  ext: object | null = null;
  /** Re-shapes the reply for the client (RESP3 clients), null = as received. */
  conv: ((reply: Buffer) => Buffer) | null = null;
  constructor(readonly session: ClientSession) {}
  onReply(reply: Buffer): void {
    if (this.conv !== null) reply = this.conv(reply);
    const g = this.session.gov;
    if (g !== null && g.onSlotReply(this, reply)) return;
    this.fill(reply);
  }
  fill(reply: Buffer): void {
    this.reply = reply;
    if (this.session.head === this) this.session.drain();
  }
}

export interface RequestHandler {
  /** Handles the request the parser currently holds; must answer it exactly once (via a slot or reply()). */
  handle(session: ClientSession, req: RequestParser): void;
  onSessionClosed(session: ClientSession): void;
}

/** Pause reading from a client whose unread replies exceed this (it is not keeping up). */
const HIGH_WATER = 64 * 1024 * 1024;

/**
 * Client ids (CLIENT ID/LIST/KILL/UNBLOCK) are unique across `--workers` processes: each
 * worker counts in its own range, so CLIENT KILL ID never hits another worker's client.
 */
let nextId = cluster.isWorker && cluster.worker ? cluster.worker.id * 2 ** 40 + 1 : 1;
const EMPTY_CHUNK = Buffer.alloc(0);
/** Unparsed input a soft-paused client may send before its socket stops being read. */
const SOFT_PAUSE_BYTES = 64 * 1024;

export class ClientSession implements Flushable {
  readonly id = nextId++;
  flushQueued = false;
  /** CLIENT SETNAME: identifies the calling service. */
  name = '';
  head: Slot | null = null;
  private tail: Slot | null = null;
  private readonly out = new OutQueue();
  private readonly parser: RequestParser;
  private closeAfterFlush = false;
  closed = false;
  /** Requests received (stats). */
  requests = 0;
  /** Transactions, subscriptions, database, protocol (null until the client uses any: see clients/). */
  state: ClientState | null = null;
  /** Reply converter for the next slot (set per request for RESP3 clients). */
  nextConv: ((reply: Buffer) => Buffer) | null = null;
  /** Governance (auth, limits, stats) when the pool has it; set by the proxy on accept. */
  gov: SessionGovernance | null = null;
  /** Set by governance for the request being handled and moved into its slot. */
  curStat = -1;
  curT0 = 0;
  curBytes = 0;
  curExt: object | null = null;

  constructor(readonly socket: net.Socket, private readonly handler: RequestHandler, limits: Partial<ParserLimits>) {
    this.parser = new RequestParser(limits);
    socket.setNoDelay(true);
    const onChunk = (chunk: Buffer): void => this.onData(chunk);
    this.direct = readAcceptedInto(socket, onChunk);
    if (!this.direct) socket.on('data', onChunk);
    socket.on('error', () => { /* 'close' follows */ });
    socket.on('close', () => this.onClose());
    const onDrain = (): void => { if (!this.closeAfterFlush && !this.closed && !this.held && this.writer.backlog === 0) this.resumeInput(); };
    this.writer = new SocketWriter(socket, onDrain);
    socket.on('drain', onDrain);
  }

  private readonly writer: SocketWriter;

  /** A blocking command is waiting: like Redis, read no further commands of this client until it is answered. */
  private held = false;

  hold(): void {
    this.held = true;
    this.pauseInput();
  }

  /**
   * Reads straight from the handle (socket-read.ts): there pause() stops the handle at once,
   * so EOF would go unseen; instead input is held back softly (fed to the parser, not parsed)
   * and the handle only stops past SOFT_PAUSE_BYTES, like a paused stream's buffer.
   */
  private readonly direct: boolean;
  private inputPaused = false;
  private handlePaused = false;

  private pauseInput(): void {
    if (!this.direct) this.socket.pause();
    else this.inputPaused = true;
  }

  private resumeInput(): void {
    if (!this.direct) { this.socket.resume(); return; }
    if (!this.inputPaused) return;
    this.inputPaused = false;
    if (this.handlePaused) { this.handlePaused = false; this.socket.resume(); }
    this.onData(EMPTY_CHUNK);
  }

  /** The blocking command was answered: go on with the commands that arrived meanwhile. */
  unhold(): void {
    if (!this.held) return;
    this.held = false;
    if (this.closed || this.closeAfterFlush) return;
    if (this.direct) { this.resumeInput(); return; }
    this.socket.resume();
    this.onData(EMPTY_CHUNK);
  }

  private onData(chunk: Buffer): void {
    if (this.closeAfterFlush) return;
    const p = this.parser;
    try {
      p.feed(chunk);
      if (this.inputPaused) {
        if (!this.handlePaused && p.bufferedBytes() > SOFT_PAUSE_BYTES) { this.handlePaused = true; this.socket.pause(); }
        return;
      }
      while (!this.held && p.parseNext()) {
        this.requests++;
        if (this.gov === null || !this.gov.onRequest(this, p)) this.handler.handle(this, p);
        if (this.closeAfterFlush) return;
      }
    } catch (err) {
      if (!(err instanceof RespProtocolError)) throw err;
      this.reply(errorReply(`ERR ${err.message}`));
      this.protocolError = true;
      this.endAfterReplies();
    }
  }

  /** Set when the client was closed for malformed input (stats). */
  protocolError = false;

  /** A new reply slot at the end of the client's order. */
  slot(): Slot {
    const s = new Slot(this);
    if (this.gov !== null) {
      s.stat = this.curStat; s.t0 = this.curT0; s.bytes = this.curBytes; s.ext = this.curExt;
      this.curStat = -1; this.curExt = null;
    }
    if (this.nextConv !== null) { s.conv = this.nextConv; this.nextConv = null; }
    if (this.tail === null) this.head = this.tail = s;
    else this.tail = this.tail.next = s;
    return s;
  }

  /** Answers the current request at once (local commands, errors). */
  reply(buf: Buffer): void {
    if (this.gov !== null) this.gov.onImmediateReply(this, buf);
    if (this.head === null) this.push(buf);
    else this.slot().reply = buf;
  }

  /** Closes the connection once every earlier reply has been written (QUIT, protocol error). */
  endAfterReplies(): void {
    this.closeAfterFlush = true;
    if (!this.direct) this.socket.pause(); // direct reads go on (and are dropped) so EOF is seen
    if (this.head === null) scheduleFlush(this);
  }

  drain(): void {
    let s = this.head;
    while (s !== null && s.reply !== null) {
      this.push(s.reply);
      s = s.next;
    }
    this.head = s;
    if (s === null) {
      this.tail = null;
      if (this.closeAfterFlush) scheduleFlush(this);
    }
  }

  private push(buf: Buffer): void {
    this.out.push(buf);
    scheduleFlush(this);
  }

  flush(): void {
    if (this.closed) return;
    const sock = this.socket;
    this.out.writeTo(this.writer);
    if (this.closeAfterFlush && this.head === null) sock.end();
    else if (this.writer.backlog > HIGH_WATER) this.pauseInput();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.clear();
    this.handler.onSessionClosed(this);
  }
}
