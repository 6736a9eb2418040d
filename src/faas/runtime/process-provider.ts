/**
 * The embedded runtime provider: every instance is a child process under a Trellis watchdog
 * on its own loopback port. A reconcile loop keeps each function at its desired count of
 * current-version instances: it replaces crashed ones (with crash-loop back-off), rolls
 * updates over (new instances ready first, then old ones drained) and drains on scale-down.
 *
 * Draining = the instance leaves the routable set ('instance-gone'), the watchdog is told to
 * take no new work (Connection: close), and we wait until it has no request in flight and
 * none arrived for `drainQuietMs` (bounded by drainMs) before SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FunctionRecord } from '../types.js';
import { afterCrash, DEFAULT_BACKOFF, NO_CRASHES, settle, waitBeforeStart, type BackoffPolicy, type CrashState } from './crash-backoff.js';
import { instanceEnv, loadSpecFor, planFor, prepareInstanceDirSync, writeInstanceSecrets, type InstanceDirs, type RunPlan } from './instance-plan.js';
import { LogBuffer } from './log-buffer.js';
import type { FunctionHealth, InstanceInfo, LogLine, ProviderEvent, RuntimeProvider } from './provider.js';
import { WatchdogProcess } from './watchdog-process.js';
import type { InstancePool } from './pool/warm-pool.js';

export interface ProcessProviderOptions {
  /** Bundles live in <bundlesDir>/<bundleId>/ (the gateway stores uploads there). */
  bundlesDir: string;
  /** Per-instance directories; default a fresh temp dir (removed on close). */
  runDir?: string;
  /** Value of a secret from the gateway's store; undefined = missing (the start fails). */
  resolveSecret?: (name: string) => string | undefined | Promise<string | undefined>;
  logCapacity?: number;
  startTimeoutMs?: number;
  /** Longest a drain waits for in-flight requests. */
  drainMs?: number;
  drainQuietMs?: number;
  /** Exec timeout when the deployment gives none; matches the gateway's default (60 s) so both agree. */
  defaultTimeoutMs?: number;
  backoff?: Partial<BackoffPolicy>;
  host?: string;
  pythonBin?: string;
  /** Warm pool (pool/warm-pool.ts): cold starts take a generic started process when they can. */
  pool?: InstancePool;
}

interface Inst {
  info: InstanceInfo;
  wp?: WatchdogProcess;
  dir?: string;
  ready: Promise<void>;
  stopping?: Promise<void>;
  gone: boolean;
  lastStderr: string[];
}

interface Fn {
  record: FunctionRecord;
  desired: number;
  insts: Map<string, Inst>;
  crash: CrashState;
  lastError?: string;
  retryTimer?: NodeJS.Timeout;
  removed: boolean;
  /** The current record's run plan, worked out (and checked) by deploy. */
  plan?: { rec: FunctionRecord; plan: RunPlan };
  /**
   * An instance id whose directory is already made (without secrets) for the current record:
   * the next start takes it, so a cold start makes no directories. Made off the request path.
   */
  spare?: { rec: FunctionRecord; id: string; dirs: InstanceDirs };
  spareTimer?: NodeJS.Timeout;
}

/** How long after a start or deploy the next spare instance directory is made. */
const SPARE_DIR_DELAY_MS = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ProcessProvider implements RuntimeProvider {
  private fns = new Map<string, Fn>();
  private logBuffers = new Map<string, LogBuffer>();
  private listeners = new Set<(e: ProviderEvent) => void>();
  private readonly runDir: string;
  private readonly ownRunDir: boolean;
  private readonly policy: BackoffPolicy;
  private closed = false;

  constructor(private readonly opts: ProcessProviderOptions) {
    this.ownRunDir = !opts.runDir;
    this.runDir = opts.runDir ?? mkdtempSync(join(tmpdir(), 'trellis-run-'));
    this.policy = { ...DEFAULT_BACKOFF, ...opts.backoff };
  }

  async deploy(rec: FunctionRecord): Promise<void> {
    if (this.closed) throw new Error('provider is closed');
    const plan = planFor(rec, this.opts.bundlesDir, this.defaultTimeout()); // validate before touching anything
    let fn = this.fns.get(rec.name);
    if (!fn) {
      fn = { record: rec, desired: rec.replicas, insts: new Map(), crash: NO_CRASHES, removed: false };
      this.fns.set(rec.name, fn);
      this.system(rec.name, '-', `deployed version ${rec.version} (${rec.replicas} replica(s))`);
    } else {
      const prev = fn.record;
      fn.record = rec;
      if (rec.replicas !== prev.replicas) fn.desired = rec.replicas;
      if (rec.version !== prev.version) {
        fn.crash = NO_CRASHES;
        fn.lastError = undefined;
        this.clearRetry(fn);
        this.system(rec.name, '-', `rolling update: version ${prev.version} -> ${rec.version}`);
      }
    }
    fn.plan = { rec, plan };
    this.reconcile(fn);
    this.scheduleSpare(fn);
    const starting = [...fn.insts.values()].filter((i) => i.info.version === rec.version && i.info.state === 'starting');
    const results = await Promise.allSettled(starting.map((i) => i.ready));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && !fn.removed && fn.record.version === rec.version) throw new Error(`${rec.name} version ${rec.version} failed to start: ${(failed.reason as Error).message}`);
  }

  async scale(name: string, replicas: number): Promise<void> {
    const fn = this.need(name);
    if (!Number.isInteger(replicas) || replicas < 0) throw new Error(`replicas must be a whole number >= 0, got ${replicas}`);
    fn.desired = replicas;
    this.reconcile(fn);
    await Promise.allSettled([...fn.insts.values()].map((i) => i.stopping ?? i.ready));
  }

  async startInstance(name: string): Promise<InstanceInfo> {
    const fn = this.need(name);
    const wait = waitBeforeStart(fn.crash, Date.now());
    if (wait > 0) throw new Error(`${name} is in crash-loop back-off (${fn.crash.restarts} restart(s), next start in ${wait} ms): ${fn.lastError ?? 'crashed'}`);
    fn.desired++;
    const inst = this.startInst(fn);
    try {
      await inst.ready;
      return { ...inst.info };
    } catch (e) {
      fn.desired = Math.max(0, fn.desired - 1);
      throw e;
    }
  }

  async stopInstance(id: string, drainMs?: number): Promise<void> {
    for (const fn of this.fns.values()) {
      const inst = fn.insts.get(id);
      if (!inst) continue;
      if (inst.info.version === fn.record.version && !inst.stopping) fn.desired = Math.max(0, fn.desired - 1);
      await this.drainAndStop(fn, inst, 'stop requested', drainMs);
      return;
    }
  }

  async remove(name: string): Promise<void> {
    const fn = this.fns.get(name);
    if (!fn) return;
    fn.removed = true;
    fn.desired = 0;
    this.clearRetry(fn);
    if (fn.spareTimer) clearTimeout(fn.spareTimer);
    this.fns.delete(name);
    await Promise.allSettled([...fn.insts.values()].map((i) => this.drainAndStop(fn, i, 'function removed', Math.min(this.drainMs(), 5000))));
    this.logBuffers.delete(name);
    await fs.rm(join(this.runDir, name), { recursive: true, force: true });
  }

  instances(name: string): InstanceInfo[] {
    const fn = this.fns.get(name);
    return fn ? [...fn.insts.values()].map((i) => ({ ...i.info })) : [];
  }

  health(name: string): FunctionHealth {
    const fn = this.fns.get(name);
    if (!fn) return { restarts: 0, crashLoop: false };
    const now = Date.now();
    const up = Math.max(0, ...[...fn.insts.values()].filter((i) => i.info.state === 'ready').map((i) => now - i.info.startedAt));
    fn.crash = settle(fn.crash, up, now, this.policy);
    const h: FunctionHealth = { restarts: fn.crash.restarts, crashLoop: fn.crash.crashLoop };
    if (fn.crash.backoffUntil !== undefined && fn.crash.backoffUntil > now) h.backoffUntil = fn.crash.backoffUntil;
    if (fn.lastError && fn.crash.restarts > 0) h.lastError = fn.lastError;
    return h;
  }

  logs(name: string, opts: { tail?: number; since?: Date } = {}): LogLine[] {
    return this.logBuffers.get(name)?.read(opts) ?? [];
  }

  followLogs(name: string, onLine: (l: LogLine) => void): () => void {
    return this.logBuffer(name).follow(onLine);
  }

  on(listener: (e: ProviderEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.fns.keys()].map((n) => this.remove(n)));
    if (this.ownRunDir) await fs.rm(this.runDir, { recursive: true, force: true });
  }

  // ---- internals ----

  private reconcile(fn: Fn): void {
    if (fn.removed || this.closed) return;
    const v = fn.record.version;
    const all = [...fn.insts.values()];
    const current = all.filter((i) => i.info.version === v && !i.stopping && !i.gone);
    if (current.length < fn.desired) {
      const wait = waitBeforeStart(fn.crash, Date.now());
      if (wait > 0) {
        fn.retryTimer ??= setTimeout(() => { fn.retryTimer = undefined; this.reconcile(fn); }, wait);
      } else {
        for (let k = current.length; k < fn.desired; k++) this.startInst(fn);
      }
    } else if (current.length > fn.desired) {
      const extra = current.sort((a, b) => rank(a) - rank(b) || b.info.startedAt - a.info.startedAt).slice(0, current.length - fn.desired);
      for (const i of extra) void this.drainAndStop(fn, i, 'scale down');
    }
    const readyCurrent = current.filter((i) => i.info.state === 'ready').length;
    if (readyCurrent >= fn.desired) {
      for (const i of all) if (i.info.version !== v && !i.stopping) void this.drainAndStop(fn, i, `replaced by version ${v}`);
    }
  }

  private startInst(fn: Fn): Inst {
    const rec = fn.record;
    const spare = fn.spare?.rec === rec ? fn.spare : undefined;
    if (spare) fn.spare = undefined;
    const id = spare?.id ?? instanceId(rec);
    const info: InstanceInfo = { id, functionName: rec.name, version: rec.version, host: this.opts.host ?? '127.0.0.1', port: 0, state: 'starting', startedAt: Date.now() };
    const inst: Inst = { info, ready: Promise.resolve(), gone: false, lastStderr: [] };
    fn.insts.set(id, inst);
    inst.ready = this.bringUp(fn, rec, inst, spare?.dirs);
    inst.ready.catch(() => { /* reported through health/logs; awaited by deploy/startInstance */ });
    return inst;
  }

  private async bringUp(fn: Fn, rec: FunctionRecord, inst: Inst, spareDirs?: InstanceDirs): Promise<void> {
    const { info } = inst;
    if (spareDirs) inst.dir = spareDirs.root;
    try {
      const plan = fn.plan?.rec === rec ? fn.plan.plan : planFor(rec, this.opts.bundlesDir, this.defaultTimeout());
      const secretValues: Record<string, string> = {};
      for (const s of plan.secrets) {
        const v = await this.opts.resolveSecret?.(s);
        if (v === undefined) throw new Error(`secret "${s}" not found`);
        secretValues[s] = v;
      }
      let dirs: InstanceDirs;
      if (spareDirs) { dirs = spareDirs; writeInstanceSecrets(dirs, secretValues); }
      else dirs = prepareInstanceDirSync(this.runDir, rec, info.id, plan, secretValues);
      inst.dir = dirs.root;
      const env = instanceEnv(rec, info.id, plan, dirs);
      const pooled = this.opts.pool?.take(plan, info.host);
      const starting = `starting (${plan.runtime}, ${plan.mode} mode, version ${rec.version})`;
      if (!pooled) this.system(rec.name, info.id, starting);
      const wp = pooled ?? await WatchdogProcess.spawn({ kind: plan.kind, env, cwd: dirs.work, runDir: this.runDir, memoryLimitBytes: plan.memoryLimitBytes, host: info.host, pythonBin: this.opts.pythonBin });
      inst.wp = wp;
      info.pid = wp.pid;
      info.port = wp.port;
      if (inst.stopping) throw new Error('stopped while starting');
      // The load goes out first (for a pooled process, straight after the take); what follows,
      // all in this same turn and so before any of its output can arrive, overlaps it.
      const loaded = wp.load(loadSpecFor(rec, info.id, plan, dirs, env), this.startTimeout());
      if (pooled) { info.fromPool = true; this.system(rec.name, info.id, `${starting} from the warm pool`); }
      wp.attachOutput((stream, text) => {
        if (stream === 'stderr') { inst.lastStderr.push(text); if (inst.lastStderr.length > 5) inst.lastStderr.shift(); }
        this.log({ timestamp: new Date().toISOString(), name: rec.name, instance: info.id, stream, text });
      });
      void wp.waitExit().then(() => this.onExit(fn, inst));
      // Listeners (the gateway connecting ahead) work while it loads.
      this.emit({ type: 'instance-starting', instance: { ...info } });
      await loaded;
      // A pooled process answered the load itself: it is serving, no probe round trip needed.
      if (!pooled) await wp.waitReady(this.startTimeout(), 20);
      if (inst.stopping || inst.gone) throw new Error('stopped while starting');
      info.state = 'ready';
      info.startupMs = Date.now() - info.startedAt;
      this.system(rec.name, info.id, `ready in ${info.startupMs} ms on ${info.host}:${info.port}`);
      this.emit({ type: 'instance-ready', instance: { ...info } });
      this.reconcile(fn);
      this.scheduleSpare(fn);
    } catch (e) {
      if (inst.stopping) throw e;
      // A dying process explains itself better than the failed control request does.
      if (inst.wp) await Promise.race([inst.wp.waitExit(), sleep(200)]);
      const reason = this.describeFailure(inst, (e as Error).message);
      this.crashed(fn, inst, reason);
      throw new Error(reason);
    }
  }

  /** Makes the next start's directory soon, unless one is there for the current record. */
  private scheduleSpare(fn: Fn): void {
    if (fn.spareTimer || fn.spare?.rec === fn.record) return;
    fn.spareTimer = setTimeout(() => {
      fn.spareTimer = undefined;
      if (fn.removed || this.closed || fn.spare?.rec === fn.record) return;
      const stale = fn.spare;
      fn.spare = undefined;
      if (stale) void fs.rm(stale.dirs.root, { recursive: true, force: true }).catch(() => {});
      const rec = fn.record;
      const plan = fn.plan?.rec === rec ? fn.plan.plan : undefined;
      if (!plan) return;
      const id = instanceId(rec);
      try {
        fn.spare = { rec, id, dirs: prepareInstanceDirSync(this.runDir, rec, id, plan, {}) };
      } catch (e) {
        this.system(rec.name, '-', `could not prepare an instance directory ahead: ${(e as Error).message}`);
      }
    }, SPARE_DIR_DELAY_MS);
    fn.spareTimer.unref();
  }

  private describeFailure(inst: Inst, fallback: string): string {
    const wp = inst.wp;
    const tail = inst.lastStderr.filter((l) => l.trim()).slice(-2).join(' | ');
    if (wp?.fatal) return wp.fatal;
    if (wp && !wp.running) return `exited with ${wp.exitDescription()}${tail ? `: ${tail}` : ''}`;
    return fallback + (tail && !fallback.includes(tail) ? ` (${tail})` : '');
  }

  private onExit(fn: Fn, inst: Inst): void {
    if (inst.stopping || inst.gone) return;
    if (inst.info.state === 'starting') return; // bringUp's catch reports it
    this.crashed(fn, inst, this.describeFailure(inst, 'exited'));
  }

  private crashed(fn: Fn, inst: Inst, reason: string): void {
    if (inst.gone) return;
    inst.gone = true;
    const now = Date.now();
    const uptime = inst.info.state === 'ready' ? now - inst.info.startedAt : 0;
    inst.info.state = 'crashed';
    fn.crash = afterCrash(fn.crash, uptime, now, this.policy);
    fn.lastError = reason;
    fn.insts.delete(inst.info.id);
    const delay = waitBeforeStart(fn.crash, now);
    this.system(fn.record.name, inst.info.id, `crashed: ${reason}; restart ${fn.crash.restarts} in ${delay} ms${fn.crash.crashLoop ? ' (crash loop back-off)' : ''}`);
    this.emit({ type: 'instance-gone', instance: { ...inst.info }, reason: `crashed: ${reason}` });
    void this.cleanup(inst);
    this.reconcile(fn);
  }

  private drainAndStop(fn: Fn, inst: Inst, why: string, drainMs = this.drainMs()): Promise<void> {
    if (inst.stopping) return inst.stopping;
    const wasReady = inst.info.state === 'ready';
    inst.info.state = 'draining';
    this.system(fn.record.name, inst.info.id, `draining (${why})`);
    this.emit({ type: 'instance-gone', instance: { ...inst.info }, reason: `draining: ${why}` });
    inst.stopping = (async () => {
      const wp = inst.wp;
      if (wp && wasReady) {
        await wp.drainQuietly(drainMs, this.opts.drainQuietMs ?? 200);
      } else {
        await inst.ready.catch(() => {});
      }
      await inst.wp?.stop(2000);
      inst.info.state = 'stopped';
      fn.insts.delete(inst.info.id);
      this.system(fn.record.name, inst.info.id, 'stopped');
      await this.cleanup(inst);
    })();
    if (!wasReady) void inst.wp?.stop(1000);
    return inst.stopping;
  }

  private async cleanup(inst: Inst): Promise<void> {
    if (inst.wp?.running) await inst.wp.stop(1000);
    if (inst.dir) await fs.rm(inst.dir, { recursive: true, force: true }).catch(() => {});
  }

  private need(name: string): Fn {
    const fn = this.fns.get(name);
    if (!fn) throw new Error(`function "${name}" not found`);
    return fn;
  }

  private clearRetry(fn: Fn): void {
    if (fn.retryTimer) clearTimeout(fn.retryTimer);
    fn.retryTimer = undefined;
  }

  private logBuffer(name: string): LogBuffer {
    let b = this.logBuffers.get(name);
    if (!b) { b = new LogBuffer(this.opts.logCapacity ?? 5000); this.logBuffers.set(name, b); }
    return b;
  }

  private log(line: LogLine): void { this.logBuffer(line.name).push(line); }

  private system(name: string, instance: string, text: string): void {
    this.log({ timestamp: new Date().toISOString(), name, instance, stream: 'system', text });
  }

  private emit(e: ProviderEvent): void {
    for (const l of this.listeners) { try { l(e); } catch { /* a listener's bug must not break the provider */ } }
  }

  private defaultTimeout(): number { return this.opts.defaultTimeoutMs ?? 60_000; }
  private startTimeout(): number { return this.opts.startTimeoutMs ?? 30_000; }
  private drainMs(): number { return this.opts.drainMs ?? 10_000; }
}

function instanceId(rec: FunctionRecord): string {
  return `${rec.name}-${rec.version}-${randomBytes(3).toString('hex')}`;
}

/** Scale-down victims: starting ones first (no work lost), then the youngest ready. */
function rank(i: Inst): number { return i.info.state === 'starting' ? 0 : 1; }
