/**
 * Hot reload (twemproxy's oldest open request): a new pool config is applied to a running
 * proxy without dropping clients — backends added/removed (unchanged ones keep their
 * connections, removed ones are closed once their in-flight requests are answered), placement,
 * limits, users and the rest of governance replaced. The listen address and the listener's
 * TLS files need a restart. `watchConfig` triggers it on file changes and SIGHUP.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { RedisPoolConfig } from '../../config/index.js';
import { loadProxyConfig } from '../../config/index.js';
import type { Backend } from '../backend.js';
import { PoolGovernance } from '../governance/pool-governance.js';
import type { SessionGov } from '../governance/session-governance.js';
import type { RedisProxy } from '../proxy.js';
import type { Router } from '../router.js';
import type { ClientSession } from '../session.js';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export interface ReloadResult { gov: PoolGovernance | null; config: RedisPoolConfig; notes: string[] }

export function applyReload(
  prev: RedisPoolConfig, next: RedisPoolConfig, router: Router, gov: PoolGovernance | null, sessions: Iterable<ClientSession>,
): ReloadResult {
  const notes: string[] = [];
  if (prev.listen.host !== next.listen.host || prev.listen.port !== next.listen.port) {
    notes.push(`listen ${next.listen.host}:${next.listen.port} needs a restart; still on ${prev.listen.host}:${prev.listen.port}`);
    next = { ...next, listen: prev.listen };
  }
  if (!same(prev.governance?.tls, next.governance?.tls)) notes.push('listener TLS settings apply on restart only');
  if (((prev.governance?.tls === undefined) !== (next.governance?.tls === undefined))) next = { ...next, governance: next.governance && { ...next.governance, tls: prev.governance?.tls } };
  if (String(prev.distribution) === 'cluster' || String(next.distribution) === 'cluster') {
    notes.push('cluster pools pick up topology changes by themselves; other changes need a restart');
    return { gov, config: prev, notes };
  }
  const sameConnections = prev.serverConnections === next.serverConnections && prev.connectTimeoutMs === next.connectTimeoutMs
    && prev.redisDb === next.redisDb
    && prev.maxRequestBytes === next.maxRequestBytes && same(prev.governance?.upstreamAuth, next.governance?.upstreamAuth)
    && same(prev.governance?.upstreamTls, next.governance?.upstreamTls);
  gov?.close();
  const before = new Set(router.backends);
  const removed = router.reconfigure(next, sameConnections);
  const added = router.backends.filter((b) => !before.has(b)).length;
  const ng = next.governance ? new PoolGovernance(next, router, undefined, gov) : null;
  if (!ng) { router.onBackendEvent = null; for (const b of router.backends) b.gate = null; }
  ng?.start();
  for (const s of sessions) {
    const old = s.gov as SessionGov | null;
    s.gov = null;
    if (ng === null) continue;
    ng.limits?.tryAcquire('connections'); // already connected: counted, never dropped
    ng.attach(s);
    const sg = s.gov as unknown as SessionGov;
    if (old !== null) {
      sg.inflightBytes = old.inflightBytes;
      // Stay authenticated as the same user if it still exists (its new permissions apply).
      sg.user = old.user === null ? null : (next.governance?.users?.find((u) => u.username === old.user!.username) ?? null);
      sg.refreshCaller(s);
    }
  }
  drainThenClose(removed);
  notes.push(`${router.backends.length} backends (${added} added, ${removed.length} removed${sameConnections ? '' : ', connections renewed'})`);
  return { gov: ng, config: next, notes };
}

function drainThenClose(removed: Backend[], maxWaitMs = 10_000): void {
  if (removed.length === 0) return;
  const until = Date.now() + maxWaitMs;
  const timer = setInterval(() => {
    if (Date.now() < until && removed.some((b) => b.stats().in_queue > 0)) return;
    clearInterval(timer);
    for (const b of removed) b.close();
  }, 20);
  timer.unref();
}

/** Reloads the proxies from `path` when the file changes or on SIGHUP. Returns a stop function. */
export function watchConfig(path: string, proxies: readonly RedisProxy[], log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): () => void {
  const file = resolve(path);
  let timer: NodeJS.Timeout | null = null;
  const apply = (why: string) => {
    let cfg;
    try {
      cfg = loadProxyConfig(file);
    } catch (err) {
      log(`trellis redis-proxy: reload (${why}) refused, keeping the running config: ${(err as Error).message}`);
      return;
    }
    for (const p of proxies) {
      const next = cfg.pools.find((x) => x.name === p.config.name);
      if (!next) { log(`trellis redis-proxy: pool ${p.config.name} is not in the new config; kept (removing a pool needs a restart)`); continue; }
      if (same(next, p.config)) continue;
      log(`trellis redis-proxy: pool ${p.config.name} reloaded (${why}): ${p.reload(next).join('; ')}`);
    }
    for (const n of cfg.pools) if (!proxies.some((p) => p.config.name === n.name)) log(`trellis redis-proxy: pool ${n.name} is new; adding a pool needs a restart`);
  };
  const schedule = (why: string) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; apply(why); }, 100);
  };
  // Watch the directory: editors replace the file (rename), which ends a watch on the file itself.
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(file), (_ev, name) => { if (name === null || name === basename(file)) schedule('file changed'); });
  } catch (err) {
    log(`trellis redis-proxy: cannot watch ${file} (${(err as Error).message}); SIGHUP still reloads`);
  }
  const onHup = () => schedule('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => { watcher?.close(); process.off('SIGHUP', onHup); if (timer) clearTimeout(timer); };
}
