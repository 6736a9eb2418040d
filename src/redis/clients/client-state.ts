/**
 * What the proxy remembers about one client beyond the plain request/reply path: its database,
 * protocol, open transaction, watch, blocked call and subscriptions. Sessions that never use
 * these stay without a state object, so the plain GET/SET path pays one null check.
 */
import type { DedicatedConnection } from '../dedicated/index.js';

/** A WATCH pinned to one shard's dedicated connection. */
export interface WatchPin {
  shard: number;
  conn: DedicatedConnection;
  /** The connection broke: the watch is gone, so EXEC must fail rather than run unguarded. */
  lost: boolean;
}

/** A blocking command waiting on its own dedicated connection. */
export interface BlockedCall {
  shard: number;
  conn: DedicatedConnection;
  /** The backend's CLIENT ID of the connection (for CLIENT UNBLOCK), once known. */
  upstreamId: number;
  /** The command name (CLIENT LIST cmd=). */
  command: string;
}

export class ClientState {
  db = 0;
  proto: 2 | 3 = 2;
  tx: import('../transactions/transaction.js').Transaction | null = null;
  watch: WatchPin | null = null;
  blocked: BlockedCall | null = null;
  /** Subscriptions (names as latin1 strings). */
  channels = new Set<string>();
  patterns = new Set<string>();
  shardChannels = new Set<string>();
  lastCommand = '';
  lastActive = Date.now();

  get subscriptions(): number { return this.channels.size + this.patterns.size + this.shardChannels.size; }
}
