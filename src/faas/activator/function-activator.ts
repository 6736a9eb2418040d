/**
 * The activator's work for one function: its hold queue, its instances with their in-flight
 * counts (the breaker), the load-balancing policy, cold starts on demand, the autoscaler
 * (collector + KPA) and applying its decisions: scale out, drain-then-stop scale in.
 */
import { performance } from 'node:perf_hooks';
import { FunctionScaler, resolveScalingSpec, type AutoscalerConfig, type ScalingSpec } from '../autoscaler/index.js';
import type { InstanceInfo, RuntimeProvider } from '../runtime/provider.js';
import type { FunctionRecord } from '../types.js';
import { HoldQueue, type Held } from './hold-queue.js';
import { policyFor, type Backend, type LbPolicy } from './lb-policy.js';
import type { ActivatorMetrics } from './metrics.js';
import { ActivationError, type InstanceLease } from './types.js';

export interface ActivatorContext {
  provider: RuntimeProvider;
  functions: (name: string) => FunctionRecord | undefined;
  metrics: ActivatorMetrics;
  clock: { now(): number };
  config: AutoscalerConfig;
  queueDepth: number;
  drainTimeoutMs?: number;
  log: (line: string) => void;
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

export const RETRY_AFTER_S = 1;

export class FunctionActivator {
  private spec: ScalingSpec;
  private version: number;
  private readonly scaler: FunctionScaler;
  private readonly instances: Tracked[] = [];
  private readonly queue: HoldQueue<Waiter>;
  private lb: LbPolicy<Tracked>;
  private starting = 0;
  private startFailures = 0;
  private retryAt = 0;
  private retryTimer?: NodeJS.Timeout;
  private lastError?: string;
  /** Instances we asked the provider to stop: never adopt them again. */
  private readonly stopped = new Set<string>();
  private desired = 0;
  private panicking = false;
  private closed = false;
  private readonly labels: { function_name: string };

  constructor(private readonly ctx: ActivatorContext, readonly name: string, rec: FunctionRecord) {
    this.spec = this.resolve(rec);
    this.version = rec.version;
    this.scaler = new FunctionScaler(this.spec);
    this.queue = new HoldQueue<Waiter>(ctx.queueDepth);
    this.lb = policyFor(this.spec.containerConcurrency);
    this.labels = { function_name: name };
    this.sync();
  }

  /** Follows a changed deployment (new version): new spec, maybe a new LB policy. */
  update(rec: FunctionRecord): void {
    if (rec.version === this.version) return;
    const spec = this.resolve(rec);
    if (spec.containerConcurrency !== this.spec.containerConcurrency) this.lb = policyFor(spec.containerConcurrency);
    this.spec = spec;
    this.version = rec.version;
    this.scaler.updateSpec(spec);
  }

  get held(): number { return this.queue.size; }

  /**
   * Starts observing a function found in the function list before any traffic: min-scale
   * applies from now; initial-scale does not (it is for activation, and the deploy already
   * started the deployment's replicas).
   */
  observe(now: number): void {
    this.scaler.skipInitialScale();
    this.scaler.collector.touch(now);
  }

  /** A lease at once when an instance has room and nobody is waiting; else undefined. */
  tryAcquire(): InstanceLease | undefined {
    if (this.queue.size > 0) return undefined;
    const inst = this.lb(this.instances, this.spec.containerConcurrency);
    if (!inst) return undefined;
    this.scaler.collector.change(this.ctx.clock.now(), +1);
    return this.lease(inst, false);
  }

  acquire(signal?: AbortSignal): Promise<InstanceLease> {
    const now = this.ctx.clock.now();
    this.scaler.collector.change(now, +1);
    if (this.queue.size === 0) {
      const inst = this.lb(this.instances, this.spec.containerConcurrency);
      if (inst) return Promise.resolve(this.lease(inst, false));
    }
    return new Promise<InstanceLease>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, coldStart: this.eligible() === 0 };
      const h: Held<Waiter> | undefined = this.queue.push(w);
      if (!h) {
        this.scaler.collector.change(now, -1);
        reject(new ActivationError(`function "${this.name}": ${this.ctx.queueDepth} requests are already held waiting for an instance (queue full)`, 503, RETRY_AFTER_S));
        return;
      }
      // On a cold start the instance's load goes out first; the bookkeeping below overlaps it.
      this.startForHeld();
      const giveUp = (err: ActivationError) => {
        if (!this.queue.remove(h)) return;
        this.settle(w);
        this.scaler.collector.change(this.ctx.clock.now(), -1);
        reject(err);
      };
      const timeoutMs = this.spec.timeoutMs;
      w.timer = setTimeout(() => {
        const why = this.lastError ? `last start failed: ${this.lastError}` : this.starting > 0 ? 'an instance is still starting' : 'every instance is busy';
        giveUp(new ActivationError(`function "${this.name}": no instance could take the request within ${timeoutMs / 1000}s (${why})`, 503, RETRY_AFTER_S));
      }, timeoutMs);
      if (signal) {
        w.onAbort = () => giveUp(new ActivationError('client went away while the request was held', 499));
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.ctx.metrics.held.set(this.labels, this.queue.size);
      this.dispatch();
    });
  }

  /** One reconciler pass: KPA decision, then scale out or drain. */
  reconcile(now: number): void {
    this.sync();
    const ready = this.eligible();
    const d = this.scaler.decide(now, ready);
    const m = this.ctx.metrics;
    m.ready.set(this.labels, ready);
    m.held.set(this.labels, this.queue.size);
    if (!d.valid) return;
    this.desired = d.want;
    this.panicking = d.panicking;
    m.desired.set(this.labels, d.want);
    m.panic.set(this.labels, d.panicking ? 1 : 0);
    const starting = this.startingNow();
    const active = ready + starting;
    // Never shrink while requests are held; they need every instance there is.
    const want = this.queue.size > 0 ? Math.max(d.want, active) : d.want;
    // A function whose instances keep failing to start is retried only for waiting requests
    // (or a min-scale), not forever in the background (Knative gives up after its progress deadline).
    const failing = ready === 0 && this.startFailures > 0 && this.queue.size === 0 && this.spec.minScale === 0;
    if (want > active && !failing) {
      const n = want - active;
      this.startInstances(n - this.revive(n));
    } else if (want < ready && starting === 0) {
      const victims = this.instances.filter((i) => i.eligible).sort((a, b) => a.inflight - b.inflight).slice(0, ready - want);
      for (const v of victims) this.drain(v);
    }
    this.dispatch();
  }

  onReady(info: InstanceInfo): void { this.track(info); this.dispatch(); }

  onGone(id: string): void { this.stopped.delete(id); this.untrack(id); this.ensureCapacity(); }

  /** Rejects every held request (function removed, activator closing). */
  failHeld(err: () => ActivationError): void {
    for (const w of this.queue.drain()) {
      this.settle(w);
      this.scaler.collector.change(this.ctx.clock.now(), -1);
      w.reject(err());
    }
  }

  activity(): FunctionActivity {
    return {
      ready: this.eligible(),
      draining: this.instances.filter((i) => i.draining).length,
      starting: this.starting,
      held: this.queue.size,
      inflight: this.instances.reduce((n, i) => n + i.inflight, 0),
      desired: this.desired,
      panicking: this.panicking,
    };
  }

  close(reason: () => ActivationError): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const t of this.instances) if (t.drainTimer) clearTimeout(t.drainTimer);
    this.failHeld(reason);
  }

  // ---- internals ----

  private resolve(rec: FunctionRecord): ScalingSpec {
    try { return resolveScalingSpec(this.name, rec.spec, this.ctx.config); } catch (err) {
      throw new ActivationError((err as Error).message, 503, RETRY_AFTER_S);
    }
  }

  private eligible(): number {
    let n = 0;
    for (const i of this.instances) if (i.eligible) n++;
    return n;
  }

  private lease(inst: Tracked, coldStart: boolean): InstanceLease {
    inst.inflight++;
    return new Lease(this, inst, coldStart);
  }

  /** A lease on `inst` ended (called once per lease, by Lease.release). */
  leaseEnded(inst: Tracked): void {
    inst.inflight--;
    this.scaler.collector.change(this.ctx.clock.now(), -1);
    if (inst.draining) this.maybeStop(inst);
    else if (this.queue.size > 0) this.dispatch();
  }

  private settle(w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    this.ctx.metrics.held.set(this.labels, this.queue.size);
  }

  /** Hands held requests, oldest first, to instances with room. */
  private dispatch(): void {
    while (this.queue.size > 0) {
      const inst = this.lb(this.instances, this.spec.containerConcurrency);
      if (!inst) break;
      const w = this.queue.shift()!;
      this.settle(w);
      w.resolve(this.lease(inst, w.coldStart));
    }
  }

  private track(info: InstanceInfo): void {
    const known = this.instances.find((i) => i.info.id === info.id);
    if (known) { known.info = info; return; }
    if (info.state !== 'ready' || this.stopped.has(info.id)) return;
    this.instances.push({ info, inflight: 0, eligible: true, draining: false, stopping: false });
    this.ctx.metrics.ready.set(this.labels, this.eligible());
  }

  private untrack(id: string): void {
    const i = this.instances.findIndex((x) => x.info.id === id);
    if (i < 0) return;
    const [t] = this.instances.splice(i, 1);
    if (t.drainTimer) clearTimeout(t.drainTimer);
    this.ctx.metrics.ready.set(this.labels, this.eligible());
  }

  /** Adopts instances the provider started itself (deploy, crash replacement); drops gone ones. */
  private sync(): void {
    const ids = new Set<string>();
    for (const info of this.ctx.provider.instances(this.name)) {
      if (info.state === 'ready') { ids.add(info.id); this.track(info); }
      else if (info.state === 'draining' || info.state === 'starting') ids.add(info.id);
    }
    for (const t of [...this.instances]) if (!ids.has(t.info.id)) this.untrack(t.info.id);
  }

  /** Starts (or revives) just enough instances for the held requests, at once, and hands them out. */
  private ensureCapacity(): void {
    this.startForHeld();
    this.dispatch();
  }

  private startForHeld(): void {
    if (this.closed || this.queue.size === 0) return;
    const cc = this.spec.containerConcurrency;
    const ready = this.instances.filter((i) => i.eligible);
    const starting = this.startingNow();
    let need: number;
    if (cc === 0) need = ready.length + starting > 0 ? 0 : 1;
    else {
      const spare = ready.reduce((n, i) => n + Math.max(0, cc - i.inflight), 0) + starting * cc;
      need = Math.ceil(Math.max(0, this.queue.size - spare) / cc);
    }
    if (this.spec.maxScale > 0) need = Math.min(need, this.spec.maxScale - ready.length - starting);
    need -= this.revive(need);
    if (need > 0) this.startInstances(need);
  }

  /** Instances on their way up: ours, or the provider's own (deploy, crash replacement, rollout). */
  private startingNow(): number {
    let theirs = 0;
    for (const i of this.ctx.provider.instances(this.name)) if (i.state === 'starting') theirs++;
    return Math.max(this.starting, theirs);
  }

  /** Takes back instances that are draining but not yet stopping: cheaper than a cold start. */
  private revive(n: number): number {
    let got = 0;
    for (const t of this.instances) {
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

  private startInstances(n: number): void {
    if (n <= 0 || this.closed) return;
    const now = this.ctx.clock.now();
    if (now < this.retryAt) {
      this.retryTimer ??= setTimeout(() => { this.retryTimer = undefined; this.ensureCapacity(); }, this.retryAt - now);
      return;
    }
    for (let k = 0; k < n; k++) {
      const cold = this.queue.size > 0;
      this.starting++;
      const t0 = performance.now();
      this.ctx.provider.startInstance(this.name).then((info) => {
        this.starting--;
        this.startFailures = 0;
        this.lastError = undefined;
        if (cold) {
          const labels = { function_name: this.name, source: info.fromPool ? 'pool' : 'fresh' };
          this.ctx.metrics.coldStarts.inc(labels);
          this.ctx.metrics.coldStartSeconds.observe(labels, (performance.now() - t0) / 1000);
        }
        this.track({ ...info, state: 'ready' });
        this.ensureCapacity();
      }, (err: unknown) => {
        this.starting--;
        this.startFailures++;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.ctx.log(`activator: starting an instance of ${this.name} failed: ${this.lastError}`);
        if (!this.ctx.functions(this.name)) {
          this.failHeld(() => new ActivationError(`function "${this.name}" was removed`, 404));
          return;
        }
        this.retryAt = this.ctx.clock.now() + Math.min(10_000, 250 * 2 ** (this.startFailures - 1));
        this.ensureCapacity();
      });
    }
  }

  private drain(t: Tracked): void {
    t.draining = true;
    t.eligible = false;
    this.ctx.metrics.ready.set(this.labels, this.eligible());
    if (t.inflight === 0) { this.stop(t); return; }
    t.drainTimer = setTimeout(() => this.stop(t), this.ctx.drainTimeoutMs ?? this.spec.timeoutMs);
  }

  private maybeStop(t: Tracked): void {
    if (t.draining && !t.stopping && t.inflight === 0) this.stop(t);
  }

  private stop(t: Tracked): void {
    if (t.stopping) return;
    t.stopping = true;
    this.stopped.add(t.info.id);
    this.untrack(t.info.id);
    this.ctx.provider.stopInstance(t.info.id, this.ctx.drainTimeoutMs ?? this.spec.timeoutMs).catch((err: unknown) => {
      this.ctx.log(`activator: stopping ${t.info.id} of ${this.name} failed: ${(err as Error).message}`);
    });
  }
}

/** A lease as a plain object with a method: taking one per request allocates no closure. */
class Lease implements InstanceLease {
  readonly instanceId: string;
  readonly host: string;
  readonly port: number;
  private released = false;

  constructor(private readonly owner: FunctionActivator, private readonly inst: Tracked, readonly coldStart: boolean) {
    this.instanceId = inst.info.id;
    this.host = inst.info.host;
    this.port = inst.info.port;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.leaseEnded(this.inst);
  }
}
