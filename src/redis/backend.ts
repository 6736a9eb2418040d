/**
 * A backend Redis server: a few multiplexed connections (twemproxy's server_connections),
 * their request timeout sweep, and the backend's counters under twemproxy's stats names.
 */
import type { ConnectionOptions } from 'node:tls';
import type { BackendSpec } from '../config/index.js';
import type { BackendGate } from './governance/hooks.js';
import { deliver, UpstreamConnection, type ReplyTarget, type TaggedTarget, type UpstreamEvent } from './upstream-connection.js';
import type { Encodable } from './out-queue.js';

export interface BackendOptions {
  connections: number;
  connectTimeoutMs: number;
  timeoutMs: number;
  maxReplyBytes: number;
  /** Sent first on every new connection (upstream AUTH), its reply checked, never forwarded. */
  handshake?: Buffer | readonly Buffer[];
  /** TLS towards the backend. */
  tls?: ConnectionOptions;
}

export interface BackendStats {
  name: string;
  address: string;
  connected: boolean;
  requests: number;
  request_bytes: number;
  responses: number;
  server_eof: number;
  server_err: number;
  server_timedout: number;
  server_connections: number;
  in_queue: number;
}

export class Backend {
  readonly address: string;
  /** Ring identity: node name, else host:port. */
  readonly name: string;
  private readonly conns: UpstreamConnection[];
  /** Governance: refuses requests while ejected or overloaded (null = no checks). */
  gate: BackendGate | null = null;

  /** onOutcome: connection-level success (connected) or failure (refused, eof, timeout, auth). */
  constructor(readonly spec: BackendSpec, opts: BackendOptions, onOutcome?: (ok: boolean, ev: UpstreamEvent) => void) {
    this.address = `${spec.host}:${spec.port}`;
    this.name = spec.name ?? this.address;
    const label = this.address;
    this.conns = Array.from({ length: opts.connections }, () => new UpstreamConnection({
      host: spec.host, port: spec.port, label, connectTimeoutMs: opts.connectTimeoutMs, maxReplyBytes: opts.maxReplyBytes,
      handshake: opts.handshake, tls: opts.tls,
      onEvent: onOutcome && ((ev) => onOutcome(ev === 'connected' || ev === 'authenticated', ev)),
    }));
  }

  start(): void { for (const c of this.conns) c.start(); }

  /** Skips the reconnect back-off (governance: the backend passed a health check). */
  retryNow(): void { for (const c of this.conns) c.retryNow(); }

  /** The connection for a client: fixed per client so its requests stay in order. */
  connectionFor(clientId: number): UpstreamConnection {
    const c = this.conns;
    return c.length === 1 ? c[0] : c[clientId % c.length];
  }

  send(clientId: number, request: Buffer, target: ReplyTarget): void { this.sendTagged(clientId, request, target, -1); }

  /** send() for a TaggedTarget (tag >= 0): the reply goes to its onTaggedReply with the tag. */
  sendTagged(clientId: number, request: Buffer | Encodable, target: ReplyTarget | TaggedTarget, tag: number): void {
    if (this.gate !== null) {
      const refusal = this.gate(clientId);
      if (refusal !== null) return deliver(target, tag, refusal, 0, refusal.length);
    }
    this.connectionFor(clientId).sendTagged(request, target, tag);
  }

  get available(): boolean { return this.conns.some((c) => c.ready); }

  checkTimeouts(now: number, timeoutMs: number): void {
    for (const c of this.conns) c.checkTimeout(now, timeoutMs);
  }

  close(): void { for (const c of this.conns) c.close(); }

  /** Upstream auth rejections and the backend's last answer to them (governance stats). */
  authInfo(): { authFailures: number; lastAuthError: string } {
    let n = 0;
    let last = '';
    for (const c of this.conns) { n += c.authFailures; if (c.lastAuthError) last = c.lastAuthError; }
    return { authFailures: n, lastAuthError: last };
  }

  stats(): BackendStats {
    const s: BackendStats = {
      name: this.name, address: this.address, connected: this.available, requests: 0, request_bytes: 0,
      responses: 0, server_eof: 0, server_err: 0, server_timedout: 0, server_connections: 0, in_queue: 0,
    };
    for (const c of this.conns) {
      s.requests += c.requests;
      s.request_bytes += c.requestBytes;
      s.responses += c.responses;
      s.server_eof += c.eofs;
      s.server_err += c.errors;
      s.server_timedout += c.timeouts;
      s.server_connections += c.ready ? 1 : 0;
      s.in_queue += c.outstanding;
    }
    return s;
  }
}
