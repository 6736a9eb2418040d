/**
 * The activator: every invocation asks it for a lease on an instance. It holds requests in a
 * bounded FIFO while no instance has room, starts instances at once for them, balances
 * across ready instances with Knative's policy, and runs the reconciler that feeds the KPA
 * decider and applies its desired scale (scale-out, drain-then-stop scale-in, scale to zero).
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import {
  autoscalerConfig, FunctionScaler, resolveScalingSpec, type AutoscalerConfig, type ScalingSpec,
} from '../autoscaler/index.js';
import type { InstanceInfo, RuntimeProvider } from '../runtime/provider.js';
import type { FunctionRecord } from '../types.js';
import { HoldQueue, type Held } from './hold-queue.js';
import { policyFor, type Backend, type LbPolicy } from './lb-policy.js';
import { createActivatorMetrics, type ActivatorMetrics } from './metrics.js';
import { ActivationError, type Activator, type InstanceLease } from './types.js';

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

export interface FunctionActivity {
  ready: number;
  draining: number;
  starting: number;
  held: number;
  inflight: number;
  desired: number;
  panicking: boolean;
}

export interface ActivatorHandle extends Activator {
  /** One reconciler pass (the timer calls it every tickIntervalMs). */
  reconcile(now?: number): void;
  activity(fn: string): FunctionActivity;
  readonly metrics: ActivatorMetrics;
}

interface Tracked extends Backend {
  info: InstanceInfo;
  draining: boolean;
  stopping: boolean;
  drainTimer?: NodeJS.Timeout;
}

interface Waiter {
  resolve(l: InstanceLease): void;
  reject(e: Error): void;
  timer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
  coldStart: boolean;
}

interface FnState {
  name: string;
  version: number;
  spec: ScalingSpec;
  scaler: FunctionScaler;
  instances: Tracked[];
  queue: HoldQueue<Waiter>;
  lb: LbPolicy<Tracked>;
  starting: number;
  startFailures: number;
  retryAt: number;
  retryTimer?: NodeJS.Timeout;
  lastError?: string;
  /** Instances we asked the provider to stop: never adopt them again. */
  stopped: Set<string>;
  desired: number;
  panicking: boolean;
}

const RETRY_AFTER_S = 1;

export function createActivator(opts: ActivatorOptions): ActivatorHandle {
  const cfg = autoscalerConfig(opts.autoscaler);
  const clock = opts.clock ?? { now: () => Date.now() };
  const depth = opts.queueDepth ?? 10_000;
  const metrics = createActivatorMetrics(opts.registry ?? new Registry());
  const log = opts.log ?? (() => {});
  const { provider } = opts;
  const states = new Map<string, FnState>();
  let closed = false;

  const eligible = (st: FnState) => st.instances.filter((i) => i.eligible).length;

  function stateFor(name: string, rec: FunctionRecord): FnState {
    let st = states.get(name);
    if (st && st.version === rec.version) return st;
    let spec: ScalingSpec;
    try { spec = resolveScalingSpec(name, rec.spec, cfg); } catch (err) {
      throw new ActivationError((err as Error).message, 503, RETRY_AFTER_S);
    }
    if (st) {
      if (spec.containerConcurrency !== st.spec.containerConcurrency) st.lb = policyFor(spec.containerConcurrency);
      st.spec = spec;
      st.version = rec.version;
      st.scaler.updateSpec(spec);
      return st;
    }
    st = {
      name, version: rec.version, spec, scaler: new FunctionScaler(spec), instances: [],
      queue: new HoldQueue<Waiter>(depth), lb: policyFor(spec.containerConcurrency),
      starting: 0, startFailures: 0, retryAt: 0, stopped: new Set(), desired: 0, panicking: false,
    };
    states.set(name, st);
    sync(st);
    return st;
  }

  function lease(st: FnState, inst: Tracked, coldStart: boolean): InstanceLease {
    inst.inflight++;
    let released = false;
    return {
      instanceId: inst.info.id, host: inst.info.host, port: inst.info.port, coldStart,
      release: () => {
        if (released) return;
        released = true;
        inst.inflight--;
        st.scaler.collector.change(clock.now(), -1);
        if (inst.draining) maybeStop(st, inst);
        else if (st.queue.size > 0) dispatch(st);
      },
    };
  }

  function settle(st: FnState, w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    metrics.held.set({ function_name: st.name }, st.queue.size);
  }

  /** Hands held requests, oldest first, to instances with room. */
  function dispatch(st: FnState): void {
    while (st.queue.size > 0) {
      const inst = st.lb(st.instances, st.spec.containerConcurrency);
      if (!inst) break;
      const w = st.queue.shift()!;
      settle(st, w);
      w.resolve(lease(st, inst, w.coldStart));
    }
  }

  function failHeld(st: FnState, err: () => ActivationError): void {
    for (const w of st.queue.drain()) {
      settle(st, w);
      st.scaler.collector.change(clock.now(), -1);
      w.reject(err());
    }
  }

  function track(st: FnState, info: InstanceInfo): void {
    const known = st.instances.find((i) => i.info.id === info.id);
    if (known) { known.info = info; return; }
    if (info.state !== 'ready' || st.stopped.has(info.id)) return;
    st.instances.push({ info, inflight: 0, eligible: true, draining: false, stopping: false });
  }

  function untrack(st: FnState, id: string): void {
    const i = st.instances.findIndex((x) => x.info.id === id);
    if (i < 0) return;
    const [t] = st.instances.splice(i, 1);
    if (t.drainTimer) clearTimeout(t.drainTimer);
  }

  /** Adopts instances the provider started itself (deploy, crash replacement); drops gone ones. */
  function sync(st: FnState): void {
    const live = provider.instances(st.name);
    const ids = new Set<string>();
    for (const info of live) {
      if (info.state === 'ready') { ids.add(info.id); track(st, info); }
      else if (info.state === 'draining' || info.state === 'starting') ids.add(info.id);
    }
    for (const t of [...st.instances]) if (!ids.has(t.info.id)) untrack(st, t.info.id);
  }

  /** Starts (or revives) just enough instances for the held requests, at once. */
  function ensureCapacity(st: FnState): void {
    if (closed || st.queue.size === 0) return;
    const cc = st.spec.containerConcurrency;
    const ready = st.instances.filter((i) => i.eligible);
    let need: number;
    if (cc === 0) need = ready.length + st.starting > 0 ? 0 : 1;
    else {
      const spare = ready.reduce((n, i) => n + Math.max(0, cc - i.inflight), 0) + st.starting * cc;
      need = Math.ceil(Math.max(0, st.queue.size - spare) / cc);
    }
    if (st.spec.maxScale > 0) need = Math.min(need, st.spec.maxScale - ready.length - st.starting);
    need -= revive(st, need);
    if (need > 0) startInstances(st, need);
    dispatch(st);
  }

  /** Takes back instances that are draining but not yet stopping: cheaper than a cold start. */
  function revive(st: FnState, n: number): number {
    let got = 0;
    for (const t of st.instances) {
      if (got >= n) break;
      if (t.draining && !t.stopping) {
        if (t.drainTimer) clearTimeout(t.drainTimer);
        t.draining = false;
        t.eligible = true;
        got++;
      }
    }
    return got;
  }

  function startInstances(st: FnState, n: number): void {
    const now = clock.now();
    if (now < st.retryAt) {
      st.retryTimer ??= setTimeout(() => { st.retryTimer = undefined; ensureCapacity(st); }, st.retryAt - now);
      return;
    }
    for (let k = 0; k < n; k++) {
      const cold = st.queue.size > 0;
      st.starting++;
      const t0 = performance.now();
      provider.startInstance(st.name).then((info) => {
        st.starting--;
        st.startFailures = 0;
        st.lastError = undefined;
        if (cold) {
          const labels = { function_name: st.name, source: info.fromPool ? 'pool' : 'fresh' };
          metrics.coldStarts.inc(labels);
          metrics.coldStartSeconds.observe(labels, (performance.now() - t0) / 1000);
        }
        track(st, { ...info, state: 'ready' });
        ensureCapacity(st);
      }, (err: unknown) => {
        st.starting--;
        st.startFailures++;
        st.lastError = err instanceof Error ? err.message : String(err);
        log(`activator: starting an instance of ${st.name} failed: ${st.lastError}`);
        if (!opts.functions(st.name)) {
          failHeld(st, () => new ActivationError(`function "${st.name}" was removed`, 404));
          return;
        }
        const backoff = Math.min(10_000, 250 * 2 ** (st.startFailures - 1));
        st.retryAt = clock.now() + backoff;
        ensureCapacity(st);
      });
    }
  }

  function drain(st: FnState, t: Tracked): void {
    t.draining = true;
    t.eligible = false;
    if (t.inflight === 0) { stop(st, t); return; }
    const drainMs = opts.drainTimeoutMs ?? st.spec.timeoutMs;
    t.drainTimer = setTimeout(() => stop(st, t), drainMs);
  }

  function maybeStop(st: FnState, t: Tracked): void {
    if (t.draining && !t.stopping && t.inflight === 0) stop(st, t);
  }

  function stop(st: FnState, t: Tracked): void {
    if (t.stopping) return;
    t.stopping = true;
    st.stopped.add(t.info.id);
    untrack(st, t.info.id);
    provider.stopInstance(t.info.id, opts.drainTimeoutMs ?? st.spec.timeoutMs).catch((err: unknown) => {
      log(`activator: stopping ${t.info.id} of ${st.name} failed: ${(err as Error).message}`);
    });
  }

  function reconcileOne(st: FnState, now: number): void {
    const rec = opts.functions(st.name);
    if (!rec) {
      failHeld(st, () => new ActivationError(`function "${st.name}" was removed`, 404));
      states.delete(st.name);
      for (const m of [metrics.desired, metrics.ready, metrics.panic, metrics.held]) m.remove({ function_name: st.name });
      return;
    }
    try { stateFor(st.name, rec); } catch (err) { log(`activator: ${(err as Error).message}`); return; }
    sync(st);
    const ready = eligible(st);
    const d = st.scaler.decide(now, ready);
    const labels = { function_name: st.name };
    metrics.ready.set(labels, ready);
    metrics.held.set(labels, st.queue.size);
    if (!d.valid) return;
    st.desired = d.want;
    st.panicking = d.panicking;
    metrics.desired.set(labels, d.want);
    metrics.panic.set(labels, d.panicking ? 1 : 0);
    const active = ready + st.starting;
    // Never shrink while requests are held; they need every instance there is.
    const want = st.queue.size > 0 ? Math.max(d.want, active) : d.want;
    if (want > active) {
      const n = want - active;
      startInstances(st, n - revive(st, n));
    } else if (want < ready && st.starting === 0) {
      const victims = st.instances.filter((i) => i.eligible).sort((a, b) => a.inflight - b.inflight).slice(0, ready - want);
      for (const v of victims) drain(st, v);
    }
    dispatch(st);
  }

  function reconcile(now = clock.now()): void {
    if (closed) return;
    for (const name of opts.listFunctions?.() ?? []) {
      if (states.has(name)) continue;
      const rec = opts.functions(name);
      if (!rec) continue;
      try { stateFor(name, rec).scaler.collector.touch(now); } catch (err) { log(`activator: ${(err as Error).message}`); }
    }
    for (const st of [...states.values()]) reconcileOne(st, now);
  }

  const unsubscribe = provider.on((e) => {
    const st = states.get(e.instance.functionName);
    if (!st) return;
    if (e.type === 'instance-ready') { track(st, e.instance); dispatch(st); }
    else { st.stopped.delete(e.instance.id); untrack(st, e.instance.id); ensureCapacity(st); }
  });

  const timer = opts.autoReconcile === false ? undefined : setInterval(() => reconcile(), cfg.tickIntervalMs);
  timer?.unref();

  return {
    metrics,
    reconcile,
    acquire(fn: string, signal?: AbortSignal): Promise<InstanceLease> {
      if (closed) return Promise.reject(new ActivationError('the activator is shutting down', 503, RETRY_AFTER_S));
      if (signal?.aborted) return Promise.reject(new ActivationError('client went away', 499));
      const rec = opts.functions(fn);
      if (!rec) return Promise.reject(new ActivationError(`function "${fn}" not found`, 404));
      let st: FnState;
      try { st = stateFor(fn, rec); } catch (err) { return Promise.reject(err); }
      const now = clock.now();
      st.scaler.collector.change(now, +1);
      if (st.queue.size === 0) {
        const inst = st.lb(st.instances, st.spec.containerConcurrency);
        if (inst) return Promise.resolve(lease(st, inst, false));
      }
      return new Promise<InstanceLease>((resolve, reject) => {
        const w: Waiter = { resolve, reject, signal, coldStart: eligible(st) === 0 };
        const h: Held<Waiter> | undefined = st.queue.push(w);
        if (!h) {
          st.scaler.collector.change(now, -1);
          reject(new ActivationError(`function "${fn}": ${depth} requests are already held waiting for an instance (queue full)`, 503, RETRY_AFTER_S));
          return;
        }
        const giveUp = (err: ActivationError) => {
          if (!st.queue.remove(h)) return;
          settle(st, w);
          st.scaler.collector.change(clock.now(), -1);
          reject(err);
        };
        const timeoutMs = st.spec.timeoutMs;
        w.timer = setTimeout(() => {
          const why = st.lastError ? `last start failed: ${st.lastError}` : st.starting > 0 ? 'an instance is still starting' : 'every instance is busy';
          giveUp(new ActivationError(`function "${fn}": no instance could take the request within ${timeoutMs / 1000}s (${why})`, 503, RETRY_AFTER_S));
        }, timeoutMs);
        if (signal) {
          w.onAbort = () => giveUp(new ActivationError('client went away while the request was held', 499));
          signal.addEventListener('abort', w.onAbort, { once: true });
        }
        metrics.held.set({ function_name: fn }, st.queue.size);
        ensureCapacity(st);
      });
    },
    held: (fn) => states.get(fn)?.queue.size ?? 0,
    activity(fn: string): FunctionActivity {
      const st = states.get(fn);
      if (!st) return { ready: 0, draining: 0, starting: 0, held: 0, inflight: 0, desired: 0, panicking: false };
      return {
        ready: eligible(st),
        draining: st.instances.filter((i) => i.draining).length,
        starting: st.starting,
        held: st.queue.size,
        inflight: st.instances.reduce((n, i) => n + i.inflight, 0),
        desired: st.desired,
        panicking: st.panicking,
      };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      unsubscribe();
      for (const st of states.values()) {
        if (st.retryTimer) clearTimeout(st.retryTimer);
        for (const t of st.instances) if (t.drainTimer) clearTimeout(t.drainTimer);
        failHeld(st, () => new ActivationError('the activator is shutting down', 503, RETRY_AFTER_S));
      }
    },
  };
}
