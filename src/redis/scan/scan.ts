/**
 * SCAN across shards. The proxy's cursor encodes the shard being iterated and that shard's
 * own cursor: cursor = shardCursor * nShards + shardIndex (a decimal uint64, as Redis'
 * cursors are). A full iteration walks shard 0 to the end, then shard 1, ..., so it inherits
 * Redis' guarantee per shard: every key present for the whole iteration is returned (maybe
 * more than once). MATCH, COUNT and TYPE are passed through. Each call asks one shard.
 */
import { bulkReply, encodeCommand, type RequestParser } from '../../resp/index.js';
import { errorReply } from '../errors.js';
import { arrayElements } from '../fragments.js';
import { bulkPayload } from '../pubsub/frames.js';
import { onReply, type FeatureContext } from '../clients/context.js';
import type { ClientSession } from '../session.js';

const INVALID_CURSOR = errorReply('ERR invalid cursor');
const MAX_U64 = (1n << 64n) - 1n;

/** Splits a proxy cursor into [shard, shard cursor]; null when it is not a decimal uint64. */
export function decodeCursor(cursor: string, shards: number): [number, bigint] | null {
  if (!/^\d{1,20}$/.test(cursor)) return null;
  const c = BigInt(cursor);
  if (c > MAX_U64) return null;
  const n = BigInt(shards);
  return [Number(c % n), c / n];
}

/** The proxy cursor for continuing at `shard` with its cursor `next`; '0' when iteration is complete. Null on overflow. */
export function encodeCursor(shard: number, next: bigint, shards: number): string | null {
  if (next === 0n) return shard + 1 < shards ? String(shard + 1) : '0';
  const c = next * BigInt(shards) + BigInt(shard);
  return c > MAX_U64 ? null : String(c);
}

export function scan(ctx: FeatureContext, s: ClientSession, p: RequestParser): void {
  const n = ctx.router.backends.length;
  const parsed = decodeCursor(p.argString(1), n);
  if (parsed === null) return s.reply(INVALID_CURSOR);
  const [shard, shardCursor] = parsed;
  const args: Buffer[] = [p.arg(0), Buffer.from(shardCursor.toString())];
  for (let i = 2; i < p.argc; i++) args.push(p.arg(i));
  const slot = s.slot();
  ctx.sendTo(s, shard, encodeCommand(args), onReply((reply) => {
    if (reply[0] !== 42) return slot.onReply(reply);
    try {
      const el = arrayElements(reply);
      if (el === null || el.length !== 2) return slot.onReply(reply);
      const next = encodeCursor(shard, BigInt(bulkPayload(el[0]).toString('latin1')), n);
      if (next === null) return slot.onReply(errorReply('ERR shard cursor too large to encode in a proxy cursor'));
      slot.onReply(Buffer.concat([Buffer.from('*2\r\n'), bulkReply(next), el[1]]));
    } catch (err) {
      slot.onReply(errorReply(`ERR proxy could not read the shard's SCAN reply: ${(err as Error).message}`));
    }
  }));
}
