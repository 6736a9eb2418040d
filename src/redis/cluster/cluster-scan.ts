/**
 * SCAN over a Redis Cluster: the proxy cursor encodes the shard and that shard's own cursor
 * (the core's encoding, src/redis/scan). Shards are ordered by the lowest slot they own, so
 * the order survives a refresh and a failover (the promoted replica serves the same slots).
 * A full iteration walks each master in turn and inherits Redis' per-node guarantee; keys
 * that move between shards during the iteration (resharding) may be missed or repeated.
 */
import { bulkReply, encodeCommand, errorReply, type RequestParser } from '../../resp/index.js';
import { arrayElements } from '../fragments.js';
import { decodeCursor, encodeCursor } from '../scan/index.js';
import type { ReplyTarget } from '../upstream-connection.js';
import type { ClusterRouter } from './cluster-router.js';

const INVALID_CURSOR = errorReply('ERR invalid cursor');

function payload(el: Buffer): string {
  const lf = el.indexOf(10);
  return el.toString('latin1', lf + 1, el.length - 2);
}

/** Answers one SCAN call of the request `p` (argument bytes copied: the reply may come later). */
export function clusterScan(router: ClusterRouter, clientId: number, p: RequestParser, target: ReplyTarget): void {
  const args: Buffer[] = [];
  for (let i = 0; i < p.argc; i++) args.push(Buffer.from(p.arg(i)));
  const cursor = p.argString(1);
  const run = () => {
    const shards = router.scanOrder();
    if (shards.length === 0) return target.onReply(router.unserved(0, false));
    const parsed = decodeCursor(cursor, shards.length);
    if (parsed === null) return target.onReply(INVALID_CURSOR);
    const [shard, nodeCursor] = parsed;
    args[1] = Buffer.from(nodeCursor.toString());
    shards[shard].primary.send(clientId, encodeCommand(args), {
      onReply(reply: Buffer) {
        if (reply[0] !== 42 /* * */) return target.onReply(reply);
        try {
          const el = arrayElements(reply);
          if (el === null || el.length !== 2) return target.onReply(reply);
          const next = encodeCursor(shard, BigInt(payload(el[0])), shards.length);
          if (next === null) return target.onReply(errorReply('ERR node cursor too large to encode in a proxy cursor'));
          target.onReply(Buffer.concat([Buffer.from('*2\r\n'), bulkReply(next), el[1]]));
        } catch (err) {
          target.onReply(errorReply(`ERR proxy could not read the node's SCAN reply: ${(err as Error).message}`));
        }
      },
    });
  };
  if (router.ready) run();
  else void router.refreshed().then(run);
}
