/**
 * The gateway's view of deployed functions: validated deployments persisted in the store,
 * pushed to the runtime provider, and a name → route map for the invocation paths.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { autoscalerConfig, resolveScalingSpec, ScalingSpecError, type AutoscalerConfig } from '../autoscaler/index.js';
import { MANIFEST_FILE, readManifest, type BundleManifest } from '../build/index.js';
import type { RuntimeProvider } from '../runtime/provider.js';
import type { FunctionStore } from '../store/index.js';
import type { FunctionDeployment, FunctionRecord, FunctionStatus } from '../types.js';
import type { FunctionRoute } from './fast-path.js';
import type { GatewayMetrics } from './metrics.js';
import {
  BUNDLE_IMAGE_RE, MAX_TIMEOUT_MS, ValidationError, deploymentSchema, parseOrThrow, timeoutMs,
} from './validation.js';

/** OpenFaaS' default function namespace, reported so namespace-aware tools keep working. */
export const NAMESPACE = 'openfaas-fn';

export class NotFoundError extends Error {}
export class ConflictError extends Error {}

export class FunctionRegistry {
  private routes = new Map<string, FunctionRoute>();
  /** In-memory copy of the store's records: the activator asks per request. */
  private records = new Map<string, FunctionRecord>();

  constructor(
    private readonly store: FunctionStore,
    private readonly provider: RuntimeProvider,
    private readonly metrics: GatewayMetrics,
    readonly bundlesDir: string,
    /** The platform's autoscaler settings: defaults for a deployment's scaling annotations. */
    private readonly scaling: AutoscalerConfig = autoscalerConfig(),
  ) {}

  lookup(name: string): FunctionRoute | undefined { return this.routes.get(name); }

  names(): string[] { return [...this.routes.keys()]; }

  record(name: string): FunctionRecord | undefined { return this.records.get(name); }

  /**
   * Pushes every stored function to the provider (after a gateway restart). A function
   * becomes routable (and visible to the activator) once its deploy has settled, so the
   * activator does not start instances beside the ones the provider is starting.
   */
  async restore(onError: (name: string, err: Error) => void): Promise<void> {
    await Promise.all(this.store.listFunctions().map((r) =>
      this.provider.deploy(r).catch((err: Error) => onError(r.name, err)).finally(() => this.setRoute(r))));
  }

  /** Validates and deploys (POST: create, PUT: update). Throws Validation/NotFound/Conflict errors. */
  async deploy(body: unknown, update: boolean): Promise<FunctionRecord> {
    const spec = this.resolve(parseOrThrow(deploymentSchema, body, 'deployment') as FunctionDeployment);
    const existing = this.store.getFunction(spec.service);
    if (update && !existing) throw new NotFoundError(`function "${spec.service}" not found`);
    if (!update && existing) throw new ConflictError(`function "${spec.service}" already exists; use PUT /system/functions to update it`);
    const now = new Date().toISOString();
    const bundleId = BUNDLE_IMAGE_RE.exec(spec.image ?? '')?.[1];
    const record: FunctionRecord = {
      name: spec.service, spec, ...(bundleId ? { bundleId } : {}),
      createdAt: existing?.createdAt ?? now, updatedAt: now,
      replicas: replicasAtDeploy(spec, this.scaling, existing?.replicas),
      version: (existing?.version ?? 0) + 1,
    };
    this.store.putFunction(record);
    // Routable once the provider's deploy settles (see restore); an update keeps serving
    // through the existing route meanwhile.
    try {
      await this.provider.deploy(record);
    } finally {
      if (this.store.getFunction(record.name)?.version === record.version) this.setRoute(record);
    }
    return record;
  }

  async remove(name: string): Promise<void> {
    if (!this.store.getFunction(name)) throw new NotFoundError(`function "${name}" not found`);
    this.store.deleteFunction(name);
    this.routes.delete(name);
    this.records.delete(name);
    this.metrics.forget(name);
    await this.provider.remove(name);
  }

  async scale(name: string, replicas: number): Promise<void> {
    if (!this.store.setReplicas(name, replicas)) throw new NotFoundError(`function "${name}" not found`);
    const r = this.records.get(name);
    if (r) this.records.set(name, { ...r, replicas });
    await this.provider.scale(name, replicas);
  }

  status(name: string): FunctionStatus | undefined {
    const r = this.store.getFunction(name);
    return r ? this.toStatus(r) : undefined;
  }

  list(): FunctionStatus[] { return this.store.listFunctions().map((r) => this.toStatus(r)); }

  /** Secrets a deployment references must exist (as in OpenFaaS). */
  private resolve(spec: FunctionDeployment): FunctionDeployment {
    const out: FunctionDeployment = { ...spec };
    const bundle = BUNDLE_IMAGE_RE.exec(spec.image ?? '');
    if (spec.image?.startsWith('bundle:') && !bundle) {
      throw new ValidationError('invalid deployment: image: a bundle reference must be "bundle:" followed by a 64-hex sha256');
    }
    let manifest: BundleManifest | undefined;
    if (bundle) {
      const dir = join(this.bundlesDir, bundle[1]);
      if (!existsSync(join(dir, MANIFEST_FILE))) {
        throw new ValidationError(`invalid deployment: image: bundle ${bundle[1]} not found; upload it with POST /system/bundles or /system/builds`);
      }
      manifest = readManifest(dir);
    }
    out.runtime = spec.runtime ?? manifest?.runtime ?? (spec.envProcess ? 'command' : undefined);
    if (!out.runtime) {
      throw new ValidationError('invalid deployment: envProcess: required when no bundle is given (image: "bundle:<sha256>")');
    }
    out.envProcess = spec.envProcess ?? (out.runtime === 'command' ? manifest?.envProcess : undefined);
    if (out.runtime === 'command' && !out.envProcess) {
      throw new ValidationError('invalid deployment: envProcess: required for runtime "command"');
    }
    if (out.runtime !== 'command' && !manifest) {
      throw new ValidationError(`invalid deployment: image: a bundle ("bundle:<sha256>") is required for runtime "${out.runtime}"`);
    }
    if (out.runtime !== 'command' && manifest && manifest.runtime !== out.runtime && manifest.runtime !== 'command') {
      throw new ValidationError(`invalid deployment: runtime: "${out.runtime}" does not match the bundle's runtime "${manifest.runtime}"`);
    }
    out.handler = spec.handler ?? manifest?.handler;
    if (bundle && out.handler && !existsSync(join(this.bundlesDir, bundle[1], out.handler))) {
      throw new ValidationError(`invalid deployment: handler: "${out.handler}" is not in bundle ${bundle[1].slice(0, 12)}`);
    }
    out.mode = spec.mode ?? (out.runtime === 'command' ? 'classic' : manifest?.mode ?? 'http');
    const ms = timeoutMs(spec.timeout);
    if (!(ms > 0) || ms > MAX_TIMEOUT_MS) throw new ValidationError('invalid deployment: timeout: must be more than 0 and at most 1h');
    for (const [i, s] of (spec.secrets ?? []).entries()) {
      if (!this.store.getSecret(s)) throw new ValidationError(`invalid deployment: secrets.${i}: secret "${s}" does not exist; create it with POST /system/secrets`);
    }
    if (!out.image) delete out.image;
    return out;
  }

  private setRoute(r: FunctionRecord): void {
    this.records.set(r.name, r);
    const existing = this.routes.get(r.name);
    const t = timeoutMs(r.spec.timeout);
    if (existing) { existing.timeoutMs = t; return; }
    this.routes.set(r.name, { name: r.name, timeoutMs: t, metrics: this.metrics.forFunction(r.name) });
  }

  private toStatus(r: FunctionRecord): FunctionStatus & { trellis: unknown } {
    const s = r.spec;
    const instances = this.provider.instances(r.name);
    return {
      name: r.name,
      image: s.image ?? (r.bundleId ? `bundle:${r.bundleId}` : ''),
      namespace: NAMESPACE,
      envProcess: s.envProcess ?? '',
      envVars: s.envVars ?? {},
      labels: s.labels ?? {},
      annotations: s.annotations ?? {},
      secrets: s.secrets ?? [],
      replicas: r.replicas,
      availableReplicas: instances.filter((i) => i.state === 'ready').length,
      invocationCount: this.routes.get(r.name)?.metrics.invocations ?? 0,
      createdAt: r.createdAt,
      ...(s.limits ? { limits: s.limits } : {}),
      ...(s.requests ? { requests: s.requests } : {}),
      trellis: {
        runtime: s.runtime, mode: s.mode, handler: s.handler, bundleId: r.bundleId, version: r.version,
        concurrency: s.concurrency ?? 0, timeout: s.timeout ?? `${timeoutMs(undefined) / 1000}s`,
        updatedAt: r.updatedAt, health: this.provider.health(r.name),
        instances: instances.map((i) => ({ id: i.id, state: i.state, version: i.version, pid: i.pid, port: i.port, startedAt: new Date(i.startedAt).toISOString() })),
      },
    };
  }
}

/**
 * Instances a deployment gets, from its scaling spec (resolveScalingSpec's precedence:
 * Knative annotations > OpenFaaS labels > platform defaults). A new function starts at
 * Knative's initial-scale, at least min-scale; an update keeps the current count, moved into
 * [min-scale, max-scale]. The autoscaler takes over from there. Invalid scaling keys are a 400.
 */
export function replicasAtDeploy(spec: FunctionDeployment, cfg: AutoscalerConfig, current?: number): number {
  let s;
  try {
    s = resolveScalingSpec(spec.service, spec, cfg);
  } catch (err) {
    if (err instanceof ScalingSpecError) throw new ValidationError(`invalid deployment: ${err.key}: ${err.message.slice(err.message.indexOf(err.key) + err.key.length + 2)}`);
    throw err;
  }
  let n = current ?? Math.max(s.initialScale, s.minScale);
  n = Math.max(n, s.minScale);
  if (s.maxScale > 0) n = Math.min(n, s.maxScale);
  if (n > MAX_REPLICAS) throw new ValidationError(`invalid deployment: ${n} instances at deploy (min-scale / initial-scale) is more than ${MAX_REPLICAS}`);
  return n;
}

const MAX_REPLICAS = 1000;
