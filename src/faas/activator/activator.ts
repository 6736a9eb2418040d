/**
 * The activator: every invocation asks it for a lease on an instance. Per function
 * (function-activator.ts) it holds requests in a bounded FIFO while no instance has room,
 * starts instances at once for them, balances with Knative's policy, and applies the KPA's
 * decisions. Here: the function table, the reconciler tick (Knative's 2 s) and provider events.
 */
import { Registry } from 'prom-client';
import { autoscalerConfig, type AutoscalerConfig } from '../autoscaler/index.js';
import type { RuntimeProvider } from '../runtime/provider.js';
import type { FunctionRecord } from '../types.js';
import { FunctionActivator, RETRY_AFTER_S, type ActivatorContext, type FunctionActivity } from './function-activator.js';
import { createActivatorMetrics, type ActivatorMetrics } from './metrics.js';
import { ActivationError, type Activator, type InstanceLease } from './types.js';

export type { FunctionActivity } from './function-activator.js';

export interface ActivatorOptions {
  provider: RuntimeProvider;
  functions: (name: string) => FunctionRecord | undefined;
  /** Functions to reconcile before any traffic (min-scale, initial-scale); optional. */
  listFunctions?: () => string[];
  autoscaler?: Partial<AutoscalerConfig>;
  /** Clock for the autoscaler's decisions (ms). Held-request timeouts use real timers. */
  clock?: { now(): number };
  /** false: no reconcile timer; call reconcile() yourself (tests, benches). */
  autoReconcile?: boolean;
  /** Held requests per function (Knative's breakerQueueDepth). */
  queueDepth?: number;
  /** Longest an instance chosen for removal drains; default: the function's timeout. */
  drainTimeoutMs?: number;
  registry?: Registry;
  log?: (line: string) => void;
}

export interface ActivatorHandle extends Activator {
  tryAcquire(fn: string): InstanceLease | undefined;
  /** One reconciler pass (the timer calls it every tickIntervalMs). */
  reconcile(now?: number): void;
  activity(fn: string): FunctionActivity;
  readonly metrics: ActivatorMetrics;
}

const IDLE: FunctionActivity = { ready: 0, draining: 0, starting: 0, held: 0, inflight: 0, desired: 0, panicking: false };

export function createActivator(opts: ActivatorOptions): ActivatorHandle {
  const config = autoscalerConfig(opts.autoscaler);
  const metrics = createActivatorMetrics(opts.registry ?? new Registry());
  const ctx: ActivatorContext = {
    provider: opts.provider, functions: opts.functions, metrics, config,
    clock: opts.clock ?? { now: () => Date.now() },
    queueDepth: opts.queueDepth ?? 10_000,
    drainTimeoutMs: opts.drainTimeoutMs,
    log: opts.log ?? (() => {}),
  };
  const fns = new Map<string, FunctionActivator>();
  let closed = false;
  const shuttingDown = () => new ActivationError('the activator is shutting down', 503, RETRY_AFTER_S);

  /** The function's activator, created or updated to the record's version; throws ActivationError. */
  function forRecord(name: string, rec: FunctionRecord): FunctionActivator {
    let fa = fns.get(name);
    if (fa) fa.update(rec);
    else { fa = new FunctionActivator(ctx, name, rec); fns.set(name, fa); }
    return fa;
  }

  function reconcile(now = ctx.clock.now()): void {
    if (closed) return;
    for (const name of opts.listFunctions?.() ?? []) {
      if (fns.has(name)) continue;
      const rec = opts.functions(name);
      if (!rec) continue;
      try { forRecord(name, rec).observe(now); } catch (err) { ctx.log(`activator: ${(err as Error).message}`); }
    }
    for (const [name, fa] of [...fns]) {
      const rec = opts.functions(name);
      if (!rec) {
        fa.close(() => new ActivationError(`function "${name}" was removed`, 404));
        fns.delete(name);
        for (const m of [metrics.desired, metrics.ready, metrics.panic, metrics.held]) m.remove({ function_name: name });
        continue;
      }
      try {
        fa.update(rec);
        fa.reconcile(now);
      } catch (err) { ctx.log(`activator: ${(err as Error).message}`); }
    }
  }

  const unsubscribe = opts.provider.on((e) => {
    const fa = fns.get(e.instance.functionName);
    if (!fa) return;
    if (e.type === 'instance-ready') fa.onReady(e.instance);
    else if (e.type === 'instance-gone') fa.onGone(e.instance.id);
  });

  const timer = opts.autoReconcile === false ? undefined : setInterval(() => reconcile(), config.tickIntervalMs);
  timer?.unref();

  return {
    metrics,
    reconcile,
    acquire(fn: string, signal?: AbortSignal): Promise<InstanceLease> {
      if (closed) return Promise.reject(shuttingDown());
      if (signal?.aborted) return Promise.reject(new ActivationError('client went away', 499));
      const rec = opts.functions(fn);
      if (!rec) return Promise.reject(new ActivationError(`function "${fn}" not found`, 404));
      try { return forRecord(fn, rec).acquire(signal); } catch (err) { return Promise.reject(err); }
    },
    tryAcquire(fn: string): InstanceLease | undefined {
      if (closed) return undefined;
      const rec = opts.functions(fn);
      if (!rec) return undefined;
      try { return forRecord(fn, rec).tryAcquire(); } catch { return undefined; } // acquire() reports why
    },
    held: (fn) => fns.get(fn)?.held ?? 0,
    activity: (fn) => fns.get(fn)?.activity() ?? { ...IDLE },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      unsubscribe();
      for (const fa of fns.values()) fa.close(shuttingDown);
    },
  };
}
