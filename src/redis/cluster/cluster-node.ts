/**
 * One Redis Cluster node as the proxy sees it: a primary connection group (writes and master
 * reads) and, only when reads go to replicas, a second group whose connections send
 * `READONLY` first. Both are ordinary pipelined Backends, created on first use.
 */
import type { BackendSpec } from '../../config/index.js';
import { encodeCommand } from '../../resp/index.js';
import { Backend, type BackendOptions, type BackendStats } from '../backend.js';

const READONLY = encodeCommand(['READONLY']);

export class ClusterNode {
  readonly address: string;
  private main: Backend | null = null;
  private ro: Backend | null = null;
  /** Last connection event: false after a refused/broken connection, true once connected. */
  up = true;
  role: 'master' | 'replica' = 'master';
  /** Still listed by the last topology refresh (or learned from a redirect since). */
  listed = true;

  /** `opts.handshake`: the upstream AUTH command, if any (READONLY follows it on replica connections). */
  constructor(private readonly spec: BackendSpec, private readonly opts: BackendOptions) {
    this.address = `${spec.host}:${spec.port}`;
  }

  private make(readonly = false): Backend {
    const auth = this.opts.handshake;
    const handshake = readonly ? (auth ? [auth as Buffer, READONLY] : READONLY) : auth;
    const b = new Backend(this.spec, { ...this.opts, handshake }, (ok) => { this.up = ok; });
    b.start();
    return b;
  }

  /** Connections for writes and master reads (no READONLY). */
  get primary(): Backend {
    return this.main ?? (this.main = this.make());
  }

  /** Connections in READONLY mode, for reads served by this node as a replica. */
  get readonly(): Backend {
    return this.ro ?? (this.ro = this.make(true));
  }

  get outstanding(): number {
    return (this.main?.stats().in_queue ?? 0) + (this.ro?.stats().in_queue ?? 0);
  }

  checkTimeouts(now: number, timeoutMs: number): void {
    this.main?.checkTimeouts(now, timeoutMs);
    this.ro?.checkTimeouts(now, timeoutMs);
  }

  close(): void {
    this.main?.close();
    this.ro?.close();
  }

  /** Stats of both connection groups summed, under twemproxy's names; name = address (role). */
  stats(): BackendStats {
    const parts = [this.main, this.ro].filter((b): b is Backend => b !== null).map((b) => b.stats());
    const s: BackendStats = {
      name: `${this.address} (${this.role})`, address: this.address, connected: parts.some((p) => p.connected),
      requests: 0, request_bytes: 0, responses: 0, server_eof: 0, server_err: 0, server_timedout: 0, server_connections: 0, in_queue: 0,
    };
    for (const p of parts) {
      s.requests += p.requests; s.request_bytes += p.request_bytes; s.responses += p.responses; s.server_eof += p.server_eof;
      s.server_err += p.server_err; s.server_timedout += p.server_timedout; s.server_connections += p.server_connections; s.in_queue += p.in_queue;
    }
    return s;
  }
}
