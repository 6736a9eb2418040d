/**
 * Real servers for tests: redis-server, nats-server -js and nutcracker on free loopback ports.
 * Each start registers a stop with the current test context when one is given (t.after),
 * and every process is also killed when the test process exits, so a failing test never
 * leaves servers behind.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from '../../src/util/managed-process.js';
import { getFreePort, waitForPort } from '../../src/util/net.js';
import { RedisServer, type RedisServerOptions } from '../../src/util/redis-server.js';

export { RedisServer };
export { getFreePort, waitForPort };

interface HasAfter { after(fn: () => unknown): void }

export async function startRedis(t?: HasAfter, opts: RedisServerOptions = {}): Promise<RedisServer> {
  const s = await RedisServer.start(opts);
  t?.after(() => s.stop());
  return s;
}

export async function startRedisMany(n: number, t?: HasAfter, opts: RedisServerOptions = {}): Promise<RedisServer[]> {
  return Promise.all(Array.from({ length: n }, () => startRedis(t, opts)));
}

export interface NatsServer { url: string; port: number; process: ManagedProcess; storeDir: string; stop(): Promise<void>; restart(): Promise<void> }

/** nats-server with JetStream, storing in its own temp dir (kept across restart()). */
export async function startNats(t?: HasAfter): Promise<NatsServer> {
  const port = await getFreePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'trellis-nats-'));
  const bin = '/usr/sbin/nats-server';
  const launch = async () => {
    const p = new ManagedProcess(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir]);
    await waitForPort(port, '127.0.0.1', 10_000).catch((e) => { throw new Error(`${e.message}\n${p.recentOutput()}`); });
    return p;
  };
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: await launch(),
    storeDir,
    async stop() { await server.process.stop(); },
    async restart() { await server.process.stop(); server.process = await launch(); },
  };
  t?.after(async () => { await server.stop(); rmSync(storeDir, { recursive: true, force: true }); });
  return server;
}

export interface Nutcracker { port: number; process: ManagedProcess; stop(): Promise<void> }

/** Runs twemproxy with one pool named `alpha`; `pool` holds the pool's YAML keys (no listen). */
export async function startNutcracker(poolYaml: string, t?: HasAfter): Promise<Nutcracker> {
  const port = await getFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'trellis-twem-'));
  const conf = join(dir, 'nutcracker.yml');
  const indented = poolYaml.split('\n').filter((l) => l.trim()).map((l) => `  ${l}`).join('\n');
  writeFileSync(conf, `alpha:\n  listen: 127.0.0.1:${port}\n${indented}\n`);
  const statsPort = await getFreePort();
  const proc = new ManagedProcess('nutcracker', ['-c', conf, '-s', String(statsPort), '-a', '127.0.0.1', '-o', join(dir, 'nc.log')]);
  await waitForPort(port, '127.0.0.1', 10_000).catch((e) => { throw new Error(`${e.message}\n${proc.recentOutput()}`); });
  const nc: Nutcracker = { port, process: proc, async stop() { await proc.stop(); rmSync(dir, { recursive: true, force: true }); } };
  t?.after(() => nc.stop());
  return nc;
}
