/**
 * One client request (or one per-slot fragment of a split request) on its way through a
 * Redis Cluster. It is the reply target of its upstream send, so it sees the node's answer
 * first and handles cluster conditions itself before the client sees anything:
 *   MOVED       → record the new owner, refresh the topology (debounced), resend there;
 *   ASK         → `ASKING` + the command, pipelined on one connection to the importing node;
 *   TRYAGAIN    → resend after a short pause (multi-key request during a migration);
 *   LOADING     → a replica still syncing: the read goes to the master;
 *   CLUSTERDOWN, or the node unreachable → wait for a topology refresh and resend once
 *                 (or until failover_wait ms passed), if safe: reads always; writes only
 *                 when they were never sent (CLUSTERDOWN: refused, so never executed).
 * Redirections are bounded (max_redirects) and end in a clear error.
 */
import { encodeCommand, errorReply } from '../../resp/index.js';
import type { ReplyTarget } from '../upstream-connection.js';
import type { ClusterNode } from './cluster-node.js';
import { classifyError, ErrKind, parseRedirect } from './redirect.js';

const ASKING = encodeCommand(['ASKING']);
const IGNORE: ReplyTarget = { onReply() { /* ASKING's +OK */ } };
const MAX_TRYAGAIN = 20;

/** What a request needs from the cluster router. */
export interface RequestRouter {
  readonly maxRedirects: number;
  /** How long an unsent request may keep retrying after refreshes (0 = once). */
  readonly failoverWaitMs: number;
  /** Node for the slot under the read policy; readonly=true means use its READONLY connections. */
  pick(slot: number, read: boolean): ClusterNode | null;
  /** Whether `node` serves `slot` as its master (false: a replica read). */
  isMasterOf(slot: number, node: ClusterNode): boolean;
  /** The node at host:port, created (and connected) when unknown. */
  nodeAt(host: string, port: number): ClusterNode;
  /** MOVED: the slot now belongs to `node`; schedules a refresh. */
  moved(slot: number, node: ClusterNode): void;
  /** Resolves after a topology refresh that started after this call. */
  refreshed(): Promise<void>;
  /** Counters (INFO). */
  redirectsAsk: number;
  retries: number;
  /** The error for a slot that no usable node serves. */
  unserved(slot: number, read: boolean): Buffer;
}

export class ClusterRequest implements ReplyTarget {
  private hops = 0;
  private tryAgains = 0;
  private retried = false;
  /** failover_wait deadline, set at the first failure (0 = not waiting). */
  private deadline = 0;
  private inSend = false;
  private node: ClusterNode | null = null;
  private lastRedirect = '';
  private owned = false;

  constructor(
    private readonly router: RequestRouter,
    private readonly clientId: number,
    private raw: Buffer,
    private readonly slot: number,
    private readonly read: boolean,
    private readonly target: ReplyTarget,
  ) {}

  /** Before an asynchronous resend: own the bytes (they may point into the client's input buffer). */
  private keep(): void {
    if (!this.owned) { this.raw = Buffer.from(this.raw); this.owned = true; }
  }

  /** Sends to the slot's node under the read policy. */
  dispatch(): void {
    const node = this.router.pick(this.slot, this.read);
    if (node === null) {
      if (!this.retried) { this.retried = true; this.keep(); void this.router.refreshed().then(() => this.dispatch()); return; }
      return this.target.onReply(this.router.unserved(this.slot, this.read));
    }
    this.sendTo(node, !this.router.isMasterOf(this.slot, node), false);
  }

  private sendTo(node: ClusterNode, readonly: boolean, asking: boolean): void {
    this.node = node;
    const b = readonly ? node.readonly : node.primary;
    this.inSend = true;
    if (asking) b.send(this.clientId, ASKING, IGNORE);
    b.send(this.clientId, this.raw, this);
    this.inSend = false;
  }

  onReply(reply: Buffer): void {
    if (reply[0] !== 45 /* - */) return this.target.onReply(reply);
    const neverSent = this.inSend;
    this.inSend = false;
    switch (classifyError(reply)) {
      case ErrKind.Moved:
      case ErrKind.Ask: return this.redirect(reply);
      case ErrKind.TryAgain:
        if (++this.tryAgains > MAX_TRYAGAIN) return this.target.onReply(reply);
        this.router.retries++;
        this.keep();
        this.hops = 0; // each TRYAGAIN round starts over at the source (ASK again); bounded by MAX_TRYAGAIN
        setTimeout(() => this.dispatch(), Math.min(200, 10 * this.tryAgains));
        return;
      case ErrKind.ClusterDown:
        // Refused before execution: safe to retry for writes too.
        return this.retryAfterRefresh(reply, true);
      case ErrKind.Backend:
        return this.retryAfterRefresh(reply, neverSent || this.read);
      case ErrKind.Loading: {
        // A replica still loading its data set: read from the master instead (once).
        const m = this.router.pick(this.slot, false);
        if (this.retried || m === null || m === this.node) return this.target.onReply(reply);
        this.retried = true;
        this.router.retries++;
        return this.sendTo(m, false, false);
      }
      default:
        return this.target.onReply(reply);
    }
  }

  private retryAfterRefresh(reply: Buffer, safe: boolean): void {
    if (!safe) return this.target.onReply(reply);
    const wait = this.router.failoverWaitMs;
    if (wait > 0) {
      // failover_wait: keep retrying after each refresh until the slot's new master answers.
      if (this.deadline === 0) this.deadline = Date.now() + wait;
      if (Date.now() >= this.deadline) return this.target.onReply(reply);
    } else if (this.retried) {
      return this.target.onReply(reply);
    }
    this.retried = true;
    this.router.retries++;
    this.keep();
    void this.router.refreshed().then(() => this.dispatch());
  }

  private redirect(reply: Buffer): void {
    const r = parseRedirect(reply, this.node?.address.slice(0, this.node.address.lastIndexOf(':')) ?? '127.0.0.1');
    if (r === null) return this.target.onReply(reply);
    this.lastRedirect = reply.toString('latin1', 1, reply.length - 2);
    if (++this.hops > this.router.maxRedirects) {
      return this.target.onReply(errorReply(`ERR too many cluster redirections (${this.hops - 1}; last: ${this.lastRedirect})`));
    }
    const node = this.router.nodeAt(r.host, r.port);
    if (reply[1] === 77 /* MOVED */) {
      this.router.moved(r.slot, node);
      this.sendTo(node, false, false);
    } else {
      this.router.redirectsAsk++;
      this.sendTo(node, false, true);
    }
  }
}
