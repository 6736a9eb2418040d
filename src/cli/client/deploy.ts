/**
 * Build → upload → deploy, the `trellis fn deploy` flow (also used by `trellis up` for the
 * examples): build the source into a bundle locally, upload it (POST /system/bundles), then
 * POST or PUT /system/functions with `image: "bundle:<id>"`.
 */
import { join } from 'node:path';
import { buildFunction, packDir } from '../../faas/build/index.js';
import type { FunctionDeployment } from '../../faas/types.js';
import { configDir } from './config.js';
import type { GatewayClient } from './gateway-client.js';
import type { StackFunction } from './stack.js';

export interface DeployOptions {
  /** Where local builds are cached (default <config dir>/bundles). */
  cacheDir?: string;
  log?: (line: string) => void;
}

export async function buildStackFunction(fn: StackFunction, o: DeployOptions = {}) {
  if (!fn.handlerDir) throw new Error(`${fn.name}: nothing to build (no handler directory)`);
  return buildFunction(fn.handlerDir, { cacheDir: o.cacheDir ?? join(configDir(), 'bundles'), lang: fn.lang, onLog: o.log });
}

export async function deployStackFunction(client: GatewayClient, fn: StackFunction, o: DeployOptions = {}): Promise<'created' | 'updated'> {
  const log = o.log ?? (() => {});
  const spec: FunctionDeployment = {
    service: fn.name,
    envVars: fn.environment,
    labels: fn.labels,
    annotations: fn.annotations,
    secrets: fn.secrets,
  };
  if (fn.limits) spec.limits = fn.limits;
  if (fn.requests) spec.requests = fn.requests;
  if (fn.timeout !== undefined) spec.timeout = fn.timeout;
  if (fn.concurrency !== undefined) spec.concurrency = fn.concurrency;
  if (fn.fprocess) spec.envProcess = fn.fprocess;
  if (fn.handlerDir) {
    const built = await buildStackFunction(fn, o);
    const up = await client.uploadBundle(await packDir(built.bundleDir));
    log(`${fn.name}: uploaded bundle ${up.bundleId.slice(0, 12)}${up.cached ? ' (already on the gateway)' : ''}`);
    spec.image = up.image ?? `bundle:${up.bundleId}`;
  }
  const how = await client.deploy(spec);
  log(`${fn.name}: ${how === 'created' ? 'deployed' : 'updated (rolling)'}; invoke at ${client.url}/function/${fn.name}`);
  return how;
}

/** Deploys every function of a stack file (e.g. examples/stack.yml for `trellis up`). */
export async function deployStack(client: GatewayClient, stackFile: string, o: DeployOptions & { filter?: string } = {}): Promise<string[]> {
  const { readStack } = await import('./stack.js');
  const fns = readStack(stackFile).functions.filter((f) => !o.filter || f.name === o.filter);
  for (const f of fns) await deployStackFunction(client, f, o);
  return fns.map((f) => f.name);
}
