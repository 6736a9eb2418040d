/**
 * PUBLISH/SPUBLISH (to the backend the channel hashes to) and PUBSUB introspection merged
 * across backends. Counts are the backends' view: a proxy's shared subscriber connection is
 * one subscriber there, so PUBLISH's count and PUBSUB NUMSUB count subscribing proxies (and
 * direct clients), not the proxies' individual clients.
 */
import type { RequestParser } from '../../resp/index.js';
import { arrayElements, Gather, readInteger, type Merge } from '../fragments.js';
import type { FeatureContext } from '../clients/context.js';
import type { ClientSession } from '../session.js';

function array(elements: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`*${elements.length}\r\n`), ...elements]);
}

function firstError(replies: Buffer[]): Buffer | undefined {
  return replies.find((r) => r[0] === 45);
}

/** CHANNELS / SHARDCHANNELS: the union (a channel may be listed by several backends). */
const mergeUnion: Merge = (replies) => {
  const err = firstError(replies);
  if (err) return err;
  const seen = new Map<string, Buffer>();
  for (const r of replies) for (const e of arrayElements(r) ?? []) seen.set(e.toString('latin1'), e);
  return array([...seen.values()]);
};

/** NUMSUB / SHARDNUMSUB: [channel, count] pairs in request order, counts summed. */
const mergeNumsub: Merge = (replies) => {
  const err = firstError(replies);
  if (err) return err;
  const lists = replies.map((r) => arrayElements(r) ?? []);
  const out = lists[0].map((e, i) => {
    if (i % 2 === 0) return e;
    let sum = 0;
    for (const l of lists) sum += readInteger(l[i]);
    return Buffer.from(`:${sum}\r\n`);
  });
  return array(out);
};

/** NUMPAT: patterns are subscribed on every backend, so the largest count is the number of patterns. */
const mergeMax: Merge = (replies) => {
  const err = firstError(replies);
  if (err) return err;
  return Buffer.from(`:${Math.max(0, ...replies.map(readInteger))}\r\n`);
};

const MERGES: Record<string, Merge> = { channels: mergeUnion, shardchannels: mergeUnion, numsub: mergeNumsub, shardnumsub: mergeNumsub, numpat: mergeMax };

export class PubSubCommands {
  constructor(private readonly ctx: FeatureContext, private readonly channelShard: (name: Buffer) => number) {}

  publish(s: ClientSession, p: RequestParser): void {
    const shard = this.channelShard(p.arg(1));
    this.ctx.router.backends[shard].send(s.id, Buffer.from(p.raw()), s.slot());
  }

  /** PUBSUB <sub> ...: sent to every backend, merged. Returns false for subcommands it does not merge. */
  pubsub(s: ClientSession, p: RequestParser, sub: string): boolean {
    const merge = MERGES[sub];
    if (merge === undefined) return false;
    const backends = this.ctx.router.backends;
    const raw = Buffer.from(p.raw());
    const g = new Gather(s.slot(), backends.length, merge);
    for (let i = 0; i < backends.length; i++) backends[i].send(s.id, raw, g.fragment(i));
    return true;
  }
}
