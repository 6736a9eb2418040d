/** Shared setup for the proxy tests: real redis-servers behind a real proxy, real clients. */
import net from 'node:net';
import { Redis } from 'ioredis';
import { startRedisMany, type RedisServer } from '../helpers/servers.js';
import { startRedisProxy, type PoolOptions, type RedisProxy } from '../../src/redis/index.js';
import { createDistributor, type Distributor } from '../../src/sharding/index.js';

interface HasAfter { after(fn: () => unknown): void }

export interface ProxyFixture {
  servers: RedisServer[];
  proxy: RedisProxy;
  port: number;
  /** ioredis through the proxy (closed after the test). */
  client(): Redis;
  /** ioredis straight to backend i. */
  direct(i: number): Redis;
  /** The backend index the sharding library picks for a key. */
  shardOf(key: string): number;
}

export async function proxyFixture(t: HasAfter, n: number, opts: Partial<PoolOptions> = {}, serverArgs: string[] = []): Promise<ProxyFixture> {
  // Registered first so it runs first: clients and proxy go before the servers stop.
  const clients: Redis[] = [];
  let proxy: RedisProxy | undefined;
  t.after(async () => {
    for (const c of clients) c.disconnect();
    await proxy?.close(0);
  });
  const servers = await startRedisMany(n, t, { args: serverArgs });
  proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: servers.map((s) => s.address), ...opts });
  const { port } = proxy.address();
  // Start from connected backends, so a loaded machine cannot turn startup into test noise.
  for (const deadline = Date.now() + 15_000; !proxy.stats().backends.every((b) => b.connected) && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const mk = (p: number) => {
    const c = new Redis({ host: '127.0.0.1', port: p, maxRetriesPerRequest: 0, enableReadyCheck: false, enableOfflineQueue: true });
    clients.push(c);
    return c;
  };
  const dist: Distributor = createDistributor({
    distribution: proxy.config.distribution as 'ketama', hash: proxy.config.hash as 'fnv1a_64', hashTag: proxy.config.hashTag,
    servers: proxy.config.backends,
  });
  return {
    servers, proxy, port,
    client: () => mk(port),
    direct: (i) => mk(servers[i].port),
    shardOf: (key) => dist.serverFor(Buffer.from(key)),
  };
}

/** A raw TCP conversation: write bytes, read until `done(received)` or the socket closes. */
export function rawExchange(port: number, bytes: string | Buffer, done: (got: string) => boolean, timeoutMs = 10_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`timeout; got ${JSON.stringify(text)}`)); }, timeoutMs);
    sock.on('data', (b) => {
      text += b.toString('latin1');
      if (done(text)) { clearTimeout(timer); sock.destroy(); resolve({ text, closed: false }); }
    });
    sock.on('close', () => { clearTimeout(timer); resolve({ text, closed: true }); });
    sock.on('error', () => { /* close follows */ });
    sock.write(bytes);
  });
}

/** Keys that the library places on distinct backends: one per backend index, prefix-named. */
export function keysPerShard(f: ProxyFixture, prefix: string, perShard = 1): string[][] {
  const out: string[][] = f.servers.map(() => []);
  for (let i = 0; out.some((l) => l.length < perShard); i++) {
    const k = `${prefix}${i}`;
    const s = f.shardOf(k);
    if (out[s].length < perShard) out[s].push(k);
    if (i > 100_000) throw new Error('could not spread keys over every shard');
  }
  return out;
}
