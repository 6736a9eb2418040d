/** What the stateful command modules (transactions, blocking, pub/sub, SCAN, SELECT) need from the proxy. */
import type { RequestParser } from '../../resp/index.js';
import { commandKeys, type CommandSpec } from '../commands/index.js';
import type { DedicatedPool } from '../dedicated/index.js';
import type { Router } from '../router.js';
import type { ClientSession } from '../session.js';
import type { ReplyTarget } from '../upstream-connection.js';
import type { ClientState } from './client-state.js';

export interface FeatureContext {
  readonly router: Router;
  readonly pool: DedicatedPool;
  /** The client's state, created on first use. */
  stateOf(s: ClientSession): ClientState;
  /** Sends to a shard in the client's database (db 0: the shared multiplexed connections). */
  sendTo(s: ClientSession, shard: number, raw: Buffer, target: ReplyTarget): void;
}

/** Shard of every key of the command: -1 when keyless, -2 when the keys span shards, -3 when no backend takes a key. */
export function shardOfKeys(router: Router, spec: CommandSpec, p: RequestParser): number {
  const keys = commandKeys(spec, p.argc, (i) => p.arg(i));
  let shard = -1;
  for (const k of keys) {
    const sh = router.shardOf(p.buffer, p.argStart[k], p.argEnd[k]);
    if (sh < 0) return -3;
    if (shard === -1) shard = sh;
    else if (sh !== shard) return -2;
  }
  return shard;
}

/** A reply target that ignores the reply (handshake-like requests whose answer nobody awaits). */
export const IGNORE: ReplyTarget = { onReply() { /* dropped */ } };

/** A reply target calling fn. */
export function onReply(fn: (reply: Buffer) => void): ReplyTarget { return { onReply: fn }; }
