/**
 * What the core command splitter (command-splitter.ts) and the Redis Cluster one
 * (cluster/cluster-splitter.ts) share: the split and fan-out tables, the route lookup (cached
 * per command name, containers resolved to their subcommand, arity checked in Redis' words)
 * and the merge of INFO replies.
 */
import { bulkReply, type RequestParser } from '../resp/index.js';
import { lookupCommand, unknownCommandError, unknownSubcommandError, type CommandSpec, type GetArg } from './commands/index.js';
import { errorReply, wrongArity } from './errors.js';
import { mergeAllOk, mergeConcat, mergeLogicalAnd, mergeMget, mergeRandomNonNull, mergeSum, type Merge } from './fragments.js';
import { mergeInfo } from './info-merge.js';
import type { ClientSession } from './session.js';

/** Multi-key commands split into one sub-command per shard (or slot): every key, or key/value pairs. */
export const SPLIT: Record<string, { split: 'each' | 'pairs'; merge: Merge }> = {
  mget: { split: 'each', merge: mergeMget },
  del: { split: 'each', merge: mergeSum },
  unlink: { split: 'each', merge: mergeSum },
  exists: { split: 'each', merge: mergeSum },
  touch: { split: 'each', merge: mergeSum },
  mset: { split: 'pairs', merge: mergeAllOk },
};

/** Whole-keyspace commands sent to every shard (every master); 'info' is merged by the proxy itself. */
export const FAN_OUT: Readonly<Record<string, Merge | 'info'>> = {
  dbsize: mergeSum, flushdb: mergeAllOk, flushall: mergeAllOk, keys: mergeConcat, randomkey: mergeRandomNonNull,
  info: 'info', 'config|set': mergeAllOk, 'config|resetstat': mergeAllOk, 'config|rewrite': mergeAllOk,
  'script|load': mergeAllOk, 'script|flush': mergeAllOk, 'script|exists': mergeLogicalAnd,
  'function|flush': mergeAllOk, 'function|load': mergeAllOk, 'function|delete': mergeAllOk, 'function|restore': mergeAllOk,
};

/** Keyless commands any one shard (node) can answer. */
export const ONE_SHARD: ReadonlySet<string> = new Set([
  'time', 'lolwut', 'config|get', 'config|help', 'function|list', 'function|dump', 'function|stats', 'script|help', 'function|help',
]);

/** The part of a compiled route the lookup needs. */
export interface RouteBase {
  readonly kind: number;
  readonly name: string;
  readonly spec: CommandSpec | undefined;
  readonly arity: number;
  calls: number;
}

/** resolveRoute's answers when it replied itself: an unknown command or subcommand, or a wrong arity. */
export const UNKNOWN = 1;
export const BAD_ARITY = 0;

/**
 * The route of the request `p` holds, compiled on first use; a container (CONFIG, SCRIPT, ...)
 * resolves to its subcommand's route. Counts the call and checks arity. When the request is
 * unknown or has the wrong arity, replies the error to `s` and returns UNKNOWN or BAD_ARITY.
 */
export function resolveRoute<R extends RouteBase>(
  routes: Map<string, R>, containerKind: number, compile: (name: string, spec: CommandSpec | undefined) => R | undefined,
  s: ClientSession, p: RequestParser, getArg: GetArg,
): R | typeof UNKNOWN | typeof BAD_ARITY {
  const name = p.commandName();
  let r = routes.get(name);
  if (r === undefined) {
    r = compile(name, lookupCommand(name));
    if (r === undefined) {
      s.reply(errorReply(unknownCommandError(p.argc, getArg)));
      return UNKNOWN;
    }
  }
  if (r.kind === containerKind) {
    if (p.argc < 2) { s.reply(wrongArity(r.name)); return BAD_ARITY; }
    const sub = `${r.name}|${p.argString(1).toLowerCase()}`;
    const sr = routes.get(sub) ?? compile(sub, r.spec!.subcommands!.get(sub.slice(r.name.length + 1)));
    if (sr === undefined) {
      s.reply(errorReply(unknownSubcommandError(p.argc, getArg)));
      return UNKNOWN;
    }
    r = sr;
  }
  r.calls++;
  const argc = p.argc;
  if (r.arity >= 0 ? argc !== r.arity : argc < -r.arity) { s.reply(wrongArity(r.name)); return BAD_ARITY; }
  return r;
}

/** Calls per command name, for the splitter's stats. */
export function callsByCommand(routes: Iterable<RouteBase>): Record<string, number> {
  const commands: Record<string, number> = {};
  for (const r of routes) if (r.calls) commands[r.name] = r.calls;
  return commands;
}

/** INFO from every shard (bulk replies) merged, with the proxy's own section appended. */
export function mergeInfoReplies(replies: Buffer[], proxySection: string): Buffer {
  const texts: string[] = [];
  for (const r of replies) {
    if (r[0] !== 36 /* $ */) continue;
    const lf = r.indexOf(10);
    texts.push(r.toString('utf8', lf + 1, r.length - 2));
  }
  if (texts.length === 0) return replies[0];
  return bulkReply(mergeInfo(texts, proxySection));
}
