import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis } from '../helpers/servers.js';
import {
  COMMANDS, COMMAND_TABLE, arityOk, commandKeys, isBlocking, isWriteCommand, lookupCommand, lookupSubcommand,
  resolveCommand, type CommandSpec,
} from '../../src/redis/commands/index.js';
import { prng } from '../helpers/prng.js';

const argsOf = (line: string[]) => (i: number) => Buffer.from(line[i] ?? '');


const VOCAB = ['k1', 'k2', 'k3', '{t}a', 'x', '0', '1', '2', '3', '5', '-1', 'abc', '', 'STORE', 'store', 'STREAMS',
  'KEYS', 'BY', 'GET', 'LIMIT', 'BLOCK', 'COUNT', 'GROUP', 'AUTH', 'AUTH2', 'WEIGHTS', 'STOREDIST', 'LEFT', 'RIGHT', 'MIN'];

/** Hand-written realistic lines for the commands whose keys move with their arguments. */
const MOVABLE_LINES: string[][] = [
  ['sort', 'src'], ['sort', 'src', 'BY', 'w_*', 'LIMIT', '0', '5', 'GET', '#', 'STORE', 'dst'],
  ['sort', 'src', 'store', 'd1', 'STORE', 'd2'], ['sort', 'src', 'GET', 'store', 'ALPHA'], ['sort_ro', 'src', 'BY', 'x'],
  ['zunionstore', 'dst', '2', 'a', 'b', 'WEIGHTS', '1', '2'], ['zinterstore', 'dst', '3', 'a', 'b', 'c'],
  ['zdiffstore', 'dst', '1', 'a'], ['zunion', '2', 'a', 'b', 'WITHSCORES'], ['zinter', '1', 'a'], ['zdiff', '2', 'a', 'b'],
  ['zintercard', '2', 'a', 'b', 'LIMIT', '3'], ['sintercard', '3', 'a', 'b', 'c'],
  ['eval', 'return 1', '0'], ['eval', 'return 1', '2', 'a', 'b', 'arg'], ['evalsha', 'abc', '1', 'a', 'x'],
  ['eval_ro', 's', '3', 'a', 'b', 'c'], ['evalsha_ro', 's', '0', 'x'], ['fcall', 'f', '2', 'a', 'b'], ['fcall_ro', 'f', '0'],
  ['lmpop', '2', 'a', 'b', 'LEFT'], ['lmpop', '1', 'a', 'RIGHT', 'COUNT', '2'], ['blmpop', '0', '2', 'a', 'b', 'LEFT'],
  ['zmpop', '2', 'a', 'b', 'MIN'], ['bzmpop', '1.5', '1', 'a', 'MAX', 'COUNT', '3'],
  ['xread', 'STREAMS', 's1', 's2', '0', '0'], ['xread', 'COUNT', '2', 'BLOCK', '0', 'STREAMS', 's1', '$'],
  ['xreadgroup', 'GROUP', 'g', 'c', 'COUNT', '1', 'STREAMS', 's1', 's2', 's3', '>', '>', '>'],
  ['migrate', '127.0.0.1', '1', 'k', '0', '10'], ['migrate', '127.0.0.1', '1', '', '0', '10', 'KEYS', 'a', 'b'],
  ['migrate', '127.0.0.1', '1', '', '0', '10', 'COPY', 'AUTH', 'keys', 'KEYS', 'a'],
  ['migrate', '127.0.0.1', '1', '', '0', '10', 'AUTH2', 'u', 'p', 'KEYS', 'a', 'b', 'c'],
  ['georadius', 'g', '0', '0', '10', 'km', 'STORE', 'dst'], ['georadius', 'g', '0', '0', '10', 'km', 'STOREDIST', 'd2'],
  ['georadiusbymember', 'g', 'm', '10', 'km', 'STORE', 'd', 'COUNT', '3'], ['georadius_ro', 'g', '0', '0', '1', 'm'],
  ['geosearchstore', 'dst', 'src', 'FROMMEMBER', 'm', 'BYRADIUS', '1', 'km'],
  ['mset', 'a', '1', 'b', '2', 'c', '3'], ['msetnx', 'a', '1'], ['mget', 'a', 'b', 'c'], ['del', 'a', 'b'],
  ['exists', 'a', 'a', 'b'], ['touch', 'x'], ['unlink', 'a', 'b', 'c', 'd'], ['rpoplpush', 'a', 'b'], ['smove', 'a', 'b', 'm'],
  ['blpop', 'a', 'b', '0'], ['brpoplpush', 'a', 'b', '1'], ['blmove', 'a', 'b', 'LEFT', 'RIGHT', '0'], ['bzpopmin', 'a', 'b', '1'],
  ['object', 'encoding', 'k'], ['memory', 'usage', 'k', 'SAMPLES', '5'], ['xinfo', 'stream', 's', 'FULL'],
  ['xgroup', 'create', 's', 'g', '$', 'MKSTREAM'], ['pfcount', 'a', 'b'], ['pfmerge', 'd', 'a', 'b'], ['bitop', 'AND', 'd', 'a', 'b'],
  ['rename', 'a', 'b'], ['copy', 'a', 'b', 'REPLACE'], ['lcs', 'a', 'b'], ['sunionstore', 'd', 'a', 'b', 'c'], ['watch', 'a', 'b'],
];

function specsWithKeys(): CommandSpec[] {
  const all: CommandSpec[] = [];
  for (const c of COMMANDS.values()) {
    if (c.subcommands) { for (const s of c.subcommands.values()) if (!s.keyless) all.push(s); } else if (!c.keyless) all.push(c);
  }
  return all;
}

function randomLine(spec: CommandSpec, rnd: () => number): string[] {
  const words = spec.container ? [spec.container, spec.name.split('|')[1]] : [spec.name];
  const min = Math.abs(spec.arity);
  const n = spec.arity > 0 ? spec.arity : min + Math.floor(rnd() * 6);
  while (words.length < n) words.push(VOCAB[Math.floor(rnd() * VOCAB.length)]);
  return words;
}

async function getKeys(client: Redis, line: string[]): Promise<string[]> {
  try {
    const r = (await client.call('COMMAND', 'GETKEYS', ...line)) as string[];
    return r;
  } catch {
    return []; // Redis finds no keys (or rejects the line): we must return none either.
  }
}

test('lookup: every Redis command and subcommand is in the table', async (t) => {
  const redis = await startRedis(t);
  const client = new Redis({ host: redis.host, port: redis.port });
  t.after(() => client.disconnect());
  assert.equal(Number(await client.call('COMMAND', 'COUNT')), COMMAND_TABLE.length);
  const get = lookupCommand('get')!;
  assert.deepEqual([get.arity, get.firstKey, get.lastKey, get.step], [2, 1, 1, 1]);
  assert.ok(get.flags.has('readonly') && get.flags.has('fast') && !isWriteCommand(get));
  assert.ok(isWriteCommand(lookupCommand('set')!));
  const cfgSet = lookupSubcommand(lookupCommand('config')!, 'set')!;
  assert.equal(cfgSet.name, 'config|set');
  assert.equal(cfgSet.container, 'config');
  assert.ok(cfgSet.flags.has('admin'));
  assert.equal(lookupCommand('nosuch'), undefined);
});

test('commandKeys agrees with COMMAND GETKEYS on realistic and random lines', async (t) => {
  const redis = await startRedis(t);
  const client = new Redis({ host: redis.host, port: redis.port });
  t.after(() => client.disconnect());
  const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
  const rnd = prng(seed);
  const lines: string[][] = [...MOVABLE_LINES];
  for (const spec of specsWithKeys()) for (let i = 0; i < 3; i++) lines.push(randomLine(spec, rnd));
  for (const spec of specsWithKeys().filter((s) => s.flags.has('movablekeys'))) {
    for (let i = 0; i < 12; i++) lines.push(randomLine(spec, rnd));
  }
  assert.ok(lines.length > 300, `only ${lines.length} lines`);
  let compared = 0;
  for (const line of lines) {
    const resolved = resolveCommand(line.length, argsOf(line));
    assert.ok(resolved.spec, `${line.join(' ')}: ${resolved.error}`);
    const expected = await getKeys(client, line);
    const actual = commandKeys(resolved.spec, line.length, argsOf(line)).map((i) => line[i]);
    assert.deepEqual(actual, expected, `seed ${seed}: ${JSON.stringify(line)}`);
    compared++;
  }
  assert.ok(compared > 300);
});

test('commandKeys never throws on short or odd lines', () => {
  for (const spec of specsWithKeys()) {
    const words = spec.container ? [spec.container, spec.name.split('|')[1]] : [spec.name];
    for (let extra = 0; extra < 4; extra++) {
      const line = [...words, ...Array.from({ length: extra }, () => 'STREAMS')];
      assert.doesNotThrow(() => commandKeys(spec, line.length, argsOf(line)), spec.name);
      const numeric = [...words, ...Array.from({ length: extra }, () => '99999999999999999999')];
      assert.doesNotThrow(() => commandKeys(spec, numeric.length, argsOf(numeric)), spec.name);
    }
  }
});

test('resolveCommand errors are word for word what Redis replies', async (t) => {
  const redis = await startRedis(t);
  const client = new Redis({ host: redis.host, port: redis.port });
  t.after(() => client.disconnect());
  const bad: string[][] = [
    ['get'], ['get', 'a', 'b'], ['nosuchcmd', 'a', 'b\r\nc'], ['nosuchcmd'], ['config'], ['config', 'nosuch', 'x'],
    ['config', 'get'], ['CONFIG', 'Set', 'a'], ['object', 'encoding'], ['set', 'k'], ['mset'], ['FooBar', 'x'.repeat(300), 'y'],
  ];
  for (const line of bad) {
    const r = resolveCommand(line.length, argsOf(line));
    const err = await client.call(line[0], ...line.slice(1)).then(() => 'no error', (e: Error) => e.message);
    assert.equal(r.error, err, JSON.stringify(line));
  }
  assert.equal(resolveCommand(3, argsOf(['CONFIG', 'GET', 'maxmemory'])).spec?.name, 'config|get');
  assert.equal(resolveCommand(2, argsOf(['GET', 'k'])).spec?.name, 'get');
  assert.ok(arityOk(lookupCommand('mget')!, 5));
});

test('isBlocking: list/zset pops always, XREAD only with BLOCK, WAIT', () => {
  const check = (line: string[]) => {
    const r = resolveCommand(line.length, argsOf(line));
    return isBlocking(r.spec!, line.length, argsOf(line));
  };
  assert.equal(check(['blpop', 'a', '0']), true);
  assert.equal(check(['bzmpop', '1', '1', 'a', 'MIN']), true);
  assert.equal(check(['wait', '1', '0']), true);
  assert.equal(check(['xread', 'COUNT', '1', 'STREAMS', 's', '0']), false);
  assert.equal(check(['xread', 'BLOCK', '0', 'STREAMS', 's', '0']), true);
  assert.equal(check(['xread', 'STREAMS', 'block', '0']), false);
  assert.equal(check(['xreadgroup', 'GROUP', 'block', 'c', 'STREAMS', 's', '>']), false);
  assert.equal(check(['xreadgroup', 'GROUP', 'g', 'c', 'BLOCK', '10', 'STREAMS', 's', '>']), true);
  assert.equal(check(['get', 'a']), false);
  assert.equal(check(['lpop', 'a']), false);
});
