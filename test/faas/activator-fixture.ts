/**
 * A real function platform for activator, scale and pool tests: bundles built by the build
 * pipeline, the ProcessProvider running watchdog processes, optionally a warm pool, and the
 * activator on top.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createActivator, type ActivatorHandle, type ActivatorOptions } from '../../src/faas/activator/index.js';
import { buildFunction } from '../../src/faas/build/index.js';
import { ProcessProvider } from '../../src/faas/runtime/index.js';
import { WarmPool, type WarmPoolOptions } from '../../src/faas/runtime/pool/index.js';
import type { FunctionDeployment, FunctionRecord } from '../../src/faas/types.js';

/** Answers with its instance id after `?ms=` (or DELAY_MS) milliseconds. */
export const ECHO_ID = `
export default async (req) => {
  const ms = Number(req.query.ms ?? process.env.DELAY_MS ?? 0);
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  return process.env.TRELLIS_INSTANCE_ID;
};
`;
/** Never finishes loading: its instance never becomes ready. */
export const NEVER_READY = `await new Promise(() => {});\nexport default () => 'unreachable';\n`;
/** Fails while loading. */
export const BROKEN = `throw new Error('broken at import');\nexport default () => 'unreachable';\n`;

export interface FnDef { code?: string; python?: string; spec?: Partial<FunctionDeployment> }

export interface Platform {
  root: string;
  bundlesDir: string;
  provider: ProcessProvider;
  act: ActivatorHandle;
  registry: Registry;
  pool?: WarmPool;
  records: Map<string, FunctionRecord>;
  /** Highest count of live instances seen per function. */
  peak: Map<string, number>;
  close(): Promise<void>;
}

export async function platform(fns: Record<string, FnDef>, opts: { pool?: WarmPoolOptions['size']; activator?: Partial<ActivatorOptions> } = {}): Promise<Platform> {
  const root = mkdtempSync(join(tmpdir(), 'trellis-act-'));
  const bundlesDir = join(root, 'bundles');
  const runDir = join(root, 'run');
  mkdirSync(runDir, { recursive: true });
  const records = new Map<string, FunctionRecord>();
  let pool: WarmPool | undefined;
  if (opts.pool) {
    pool = new WarmPool({ runDir, size: opts.pool });
    await pool.start();
  }
  const provider = new ProcessProvider({ bundlesDir, runDir, pool, startTimeoutMs: 5000, drainMs: 3000, drainQuietMs: 20 });
  const peak = new Map<string, number>();
  provider.on((e) => {
    const n = provider.instances(e.instance.functionName).filter((i) => i.state !== 'stopped' && i.state !== 'crashed').length;
    peak.set(e.instance.functionName, Math.max(peak.get(e.instance.functionName) ?? 0, n));
  });
  for (const [name, def] of Object.entries(fns)) {
    const src = join(root, 'src', name);
    mkdirSync(src, { recursive: true });
    if (def.python !== undefined) writeFileSync(join(src, 'handler.py'), def.python);
    else if (def.code !== undefined || !def.spec?.envProcess) {
      writeFileSync(join(src, 'handler.js'), `// ${name}\n${def.code ?? ECHO_ID}`);
      writeFileSync(join(src, 'package.json'), '{"type":"module"}');
    }
    let bundleId: string | undefined;
    if (!def.spec?.envProcess) bundleId = (await buildFunction(src, { cacheDir: bundlesDir })).bundleId;
    const now = new Date().toISOString();
    const rec: FunctionRecord = { name, spec: { service: name, ...def.spec }, bundleId, createdAt: now, updatedAt: now, replicas: 0, version: 1 };
    records.set(name, rec);
    await provider.deploy(rec);
  }
  const registry = new Registry();
  const act = createActivator({ provider, functions: (n) => records.get(n), registry, ...opts.activator });
  return {
    root, bundlesDir, provider, act, registry, pool, records, peak,
    async close() {
      await act.close();
      await provider.close();
      await pool?.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** One invocation through the activator: lease, real HTTP request, release. Returns the body. */
export async function invoke(act: ActivatorHandle, fn: string, path = '/'): Promise<string> {
  const lease = await act.acquire(fn);
  let ok = false;
  try {
    const res = await fetch(`http://${lease.host}:${lease.port}${path}`);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${fn}${path}: HTTP ${res.status}: ${body}`);
    ok = true;
    return body;
  } finally {
    lease.release({ ok, durationMs: 0 });
  }
}

export async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
