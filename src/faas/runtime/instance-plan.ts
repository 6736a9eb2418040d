/**
 * From a FunctionRecord to "how to run one instance": which watchdog, which handler or
 * command, limits, environment — and the per-instance directory (working dir with links to
 * the bundle's files, secrets folder, tmp).
 */
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { readManifest, type BundleManifest } from '../build/manifest.js';
import type { FunctionRecord, RuntimeName } from '../types.js';
import { parseDuration, parseMemory } from './limits.js';
import type { WatchdogKind } from './watchdog-process.js';
import type { LoadSpec } from './watchdog/protocol.js';

export interface RunPlan {
  kind: WatchdogKind;
  runtime: RuntimeName;
  mode: 'http' | 'classic';
  bundleDir?: string;
  handlerPath?: string;
  envProcess?: string;
  memoryLimitBytes?: number;
  timeoutMs: number;
  concurrency: number;
  envVars: Record<string, string>;
  secrets: string[];
}

const BUNDLE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Throws a one-line reason when the record cannot run. */
export function planFor(rec: FunctionRecord, bundlesDir: string, defaultTimeoutMs: number): RunPlan {
  const spec = rec.spec;
  const image = spec.image?.startsWith('bundle:') ? spec.image.slice('bundle:'.length) : undefined;
  const bundleId = rec.bundleId ?? image;
  let bundleDir: string | undefined;
  let manifest: BundleManifest | undefined;
  if (bundleId) {
    if (!BUNDLE_ID.test(bundleId)) throw new Error(`invalid bundle id "${bundleId}"`);
    bundleDir = join(bundlesDir, bundleId);
    if (!existsSync(bundleDir)) throw new Error(`bundle ${bundleId} not found (upload it to POST /system/bundles first)`);
    manifest = readManifest(bundleDir);
  }
  const runtime: RuntimeName | undefined = spec.runtime ?? manifest?.runtime ?? (spec.envProcess ? 'command' : undefined);
  if (!runtime) throw new Error('nothing to run: give envProcess (classic) or a bundle (image "bundle:<id>")');
  const mode = spec.mode ?? (runtime === 'command' ? 'classic' : manifest?.mode ?? 'http');
  const plan: RunPlan = {
    kind: mode === 'http' && runtime === 'python3' ? 'python3' : 'node',
    runtime, mode, bundleDir,
    timeoutMs: spec.timeout !== undefined ? parseDuration(spec.timeout) : spec.envVars?.exec_timeout ? parseDuration(spec.envVars.exec_timeout) : defaultTimeoutMs,
    concurrency: spec.concurrency ?? (spec.envVars?.max_inflight ? Number(spec.envVars.max_inflight) : 0),
    envVars: spec.envVars ?? {},
    secrets: spec.secrets ?? [],
  };
  if (!Number.isInteger(plan.concurrency) || plan.concurrency < 0) throw new Error(`concurrency must be a whole number >= 0, got ${plan.concurrency}`);
  if (spec.limits?.memory) plan.memoryLimitBytes = parseMemory(spec.limits.memory);
  for (const s of plan.secrets) if (!SECRET_NAME.test(s)) throw new Error(`invalid secret name "${s}"`);
  if (mode === 'classic') {
    plan.envProcess = spec.envProcess ?? manifest?.envProcess;
    if (!plan.envProcess?.trim()) throw new Error('classic mode needs envProcess');
    return plan;
  }
  if (runtime === 'command') throw new Error('runtime "command" runs in classic mode only');
  if (!bundleDir) throw new Error(`runtime ${runtime} needs a bundle (image "bundle:<id>")`);
  const handler = spec.handler ?? manifest?.handler ?? (runtime === 'python3' ? 'handler.py' : 'handler.js');
  const handlerPath = resolve(bundleDir, handler);
  const rel = relative(bundleDir, handlerPath);
  if (isAbsolute(handler) || rel.startsWith('..') || isAbsolute(rel)) throw new Error(`handler "${handler}" must be inside the bundle`);
  if (!existsSync(handlerPath)) throw new Error(`handler "${handler}" not found in bundle ${bundleId}`);
  plan.handlerPath = handlerPath;
  return plan;
}

export interface InstanceDirs { root: string; work: string; secrets: string; tmp: string }

/**
 * Creates <runDir>/<fn>/<id>/{work,secrets,tmp}. `work` holds a link to every top-level
 * bundle entry, so relative paths in the code work while anything written stays per instance.
 */
export async function prepareInstanceDir(runDir: string, rec: FunctionRecord, id: string, plan: RunPlan, secretValues: Record<string, string>): Promise<InstanceDirs> {
  return prepareInstanceDirSync(runDir, rec, id, plan, secretValues);
}

/**
 * prepareInstanceDir without the thread pool: a handful of metadata calls that take a few µs
 * each, where every awaited fs.promises call costs a thread-pool round trip (~0.1 ms each,
 * 1–2 ms per instance, all of it on a cold start's critical path).
 */
export function prepareInstanceDirSync(runDir: string, rec: FunctionRecord, id: string, plan: RunPlan, secretValues: Record<string, string>): InstanceDirs {
  const root = join(runDir, rec.name, id);
  const d: InstanceDirs = { root, work: join(root, 'work'), secrets: join(root, 'secrets'), tmp: join(root, 'tmp') };
  mkdirSync(d.work, { recursive: true });
  mkdirSync(d.tmp, { recursive: true });
  mkdirSync(d.secrets, { recursive: true, mode: 0o700 });
  if (plan.bundleDir) {
    for (const name of readdirSync(plan.bundleDir)) symlinkSync(join(plan.bundleDir, name), join(d.work, name));
  }
  writeInstanceSecrets(d, secretValues);
  return d;
}

/** Writes the secrets' files into a prepared instance directory. */
export function writeInstanceSecrets(d: InstanceDirs, secretValues: Record<string, string>): void {
  for (const [name, value] of Object.entries(secretValues)) writeFileSync(join(d.secrets, name), value, { mode: 0o400 });
}

/** The instance's whole environment: a minimal base (nothing of the gateway's own), the user's vars, ours. */
export function instanceEnv(rec: FunctionRecord, id: string, plan: RunPlan, dirs: InstanceDirs): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: dirs.work, TMPDIR: dirs.tmp };
  for (const k of ['LANG', 'LC_ALL', 'TZ']) { const v = process.env[k]; if (v) base[k] = v; }
  return {
    ...base,
    ...plan.envVars,
    TRELLIS_FUNCTION_NAME: rec.name,
    TRELLIS_FUNCTION_VERSION: String(rec.version),
    TRELLIS_INSTANCE_ID: id,
    TRELLIS_SECRETS_DIR: dirs.secrets,
    ...(plan.bundleDir ? { TRELLIS_BUNDLE_DIR: plan.bundleDir } : {}),
  };
}

export function loadSpecFor(rec: FunctionRecord, id: string, plan: RunPlan, dirs: InstanceDirs, env: Record<string, string>): LoadSpec {
  return {
    name: rec.name, instanceId: id, mode: plan.mode, runtime: plan.runtime,
    handlerPath: plan.handlerPath, envProcess: plan.envProcess, env, cwd: dirs.work,
    timeoutMs: plan.timeoutMs, concurrency: plan.concurrency, memoryLimitBytes: plan.memoryLimitBytes,
  };
}
