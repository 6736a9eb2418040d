/**
 * Fission's pool idea, done with processes: per runtime keep K generic watchdog processes
 * already started (and, for node, warmed). A cold start takes one and the provider
 * specialises it by loading the function (`POST /_/load`); the pool refills in the
 * background. Functions a generic process cannot serve start fresh: classic mode (custom
 * command), native modules, a memory limit (applied at spawn), another listen host.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RunPlan } from '../instance-plan.js';
import { WatchdogProcess, type WatchdogKind } from '../watchdog-process.js';
import { bundleHasNativeModules } from './native.js';
import { WARMUP_FILE, WARMUP_MODULE_FILE, WARMUP_MODULE_SOURCE, WARMUP_SOURCE } from './warmup.js';

export interface WarmPoolOptions {
  /** Generic processes to keep per runtime; 0 disables. Default: node 2, python3 1. */
  size?: Partial<Record<WatchdogKind, number>>;
  /** Where the python watchdog script and the node warm-up module are written. */
  runDir: string;
  host?: string;
  pythonBin?: string;
  /** Warm the node module loader and HTTP path while idle (default true). */
  warm?: boolean;
  /**
   * Delay before replacing a taken process (default 100 ms): spawning is synchronous work
   * in this process and CPU for the new one, which must not land on the cold start it serves.
   */
  refillDelayMs?: number;
  log?: (line: string) => void;
}

/** What the process provider asks of a pool. */
export interface InstancePool {
  /** A started generic process to specialise for `plan`, or undefined: start fresh. */
  take(plan: RunPlan, host: string): WatchdogProcess | undefined;
}

export const DEFAULT_POOL_SIZE: Readonly<Record<WatchdogKind, number>> = { node: 2, python3: 1 };
const KINDS: WatchdogKind[] = ['node', 'python3'];

export class WarmPool implements InstancePool {
  private readonly idle: Record<WatchdogKind, WatchdogProcess[]> = { node: [], python3: [] };
  private readonly spawning: Record<WatchdogKind, number> = { node: 0, python3: 0 };
  private readonly failures: Record<WatchdogKind, number> = { node: 0, python3: 0 };
  private readonly sizes: Record<WatchdogKind, number>;
  private readonly host: string;
  private retryTimers = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<Promise<void>>();
  private closed = false;
  /** Takes served from the pool / cold starts that had to go fresh, per runtime. */
  readonly stats = { taken: 0, fresh: 0 };

  constructor(private readonly opts: WarmPoolOptions) {
    this.sizes = { ...DEFAULT_POOL_SIZE, ...opts.size };
    for (const k of KINDS) {
      const n = this.sizes[k];
      if (!Number.isInteger(n) || n < 0 || n > 64) throw new Error(`warm pool size for ${k} must be a whole number in [0, 64], got ${n}`);
    }
    this.host = opts.host ?? '127.0.0.1';
    if (opts.warm !== false) {
      writeFileSync(join(opts.runDir, WARMUP_FILE), WARMUP_SOURCE);
      writeFileSync(join(opts.runDir, WARMUP_MODULE_FILE), WARMUP_MODULE_SOURCE);
    }
    void this.start(); // fills in the background; start() lets a caller wait for it
  }

  /** Fills every runtime's pool; resolves once the processes asked for are up (or failed). */
  async start(): Promise<void> {
    for (const k of KINDS) this.refill(k);
    await Promise.allSettled([...this.pending]);
  }

  /** Idle processes ready to take per runtime. */
  size(kind: WatchdogKind): number { return this.idle[kind].length; }

  /** Process ids of the idle processes (diagnostics). */
  idlePids(kind: WatchdogKind): number[] { return this.idle[kind].map((w) => w.pid).filter((x): x is number => x !== undefined); }

  /** Why `plan` must start fresh, or undefined when a pooled process can serve it. */
  unsuitable(plan: RunPlan, host: string): string | undefined {
    if (plan.mode !== 'http') return 'classic mode (custom command)';
    if (this.sizes[plan.kind] === 0) return `the ${plan.kind} pool is disabled`;
    if (plan.memoryLimitBytes) return 'a memory limit is applied when the process starts';
    if (host !== this.host) return `listens on ${host}, the pool on ${this.host}`;
    if (plan.bundleDir && bundleHasNativeModules(plan.bundleDir)) return 'the bundle has native modules';
    return undefined;
  }

  take(plan: RunPlan, host: string): WatchdogProcess | undefined {
    if (this.closed || this.unsuitable(plan, host)) return undefined;
    const list = this.idle[plan.kind];
    let wp: WatchdogProcess | undefined;
    while (list.length > 0 && !wp) {
      const c = list.shift()!;
      if (c.running) wp = c;
    }
    this.scheduleRefill(plan.kind);
    if (wp) this.stats.taken++;
    else this.stats.fresh++;
    return wp;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    await Promise.allSettled([...this.pending]); // a spawn in flight stops itself once it sees `closed`
    const all = KINDS.flatMap((k) => this.idle[k].splice(0));
    await Promise.allSettled(all.map((wp) => wp.stop(1000)));
  }

  private scheduleRefill(kind: WatchdogKind): void {
    const t = setTimeout(() => { this.retryTimers.delete(t); this.refill(kind); }, this.opts.refillDelayMs ?? 100);
    t.unref();
    this.retryTimers.add(t);
  }

  private refill(kind: WatchdogKind): void {
    const want = this.sizes[kind] - this.idle[kind].length - this.spawning[kind];
    for (let i = 0; i < want && !this.closed; i++) {
      const p = this.spawnOne(kind);
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    }
  }

  private async spawnOne(kind: WatchdogKind): Promise<void> {
    this.spawning[kind]++;
    try {
      const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
      for (const k of ['LANG', 'LC_ALL', 'TZ']) { const v = process.env[k]; if (v) env[k] = v; }
      if (kind === 'node' && this.opts.warm !== false) env.NODE_OPTIONS = `--import=${pathToFileURL(join(this.opts.runDir, WARMUP_FILE)).href}`;
      const wp = await WatchdogProcess.spawn({ kind, env, cwd: this.opts.runDir, runDir: this.opts.runDir, host: this.host, pythonBin: this.opts.pythonBin });
      if (this.closed) { await wp.stop(500); return; }
      // A node process rehearses a cold start (channel, handler import, request path) so the
      // real one pays no first-use costs; a first control round trip warms python's accept path.
      if (kind === 'node' && this.opts.warm !== false) await wp.warm(join(this.opts.runDir, WARMUP_MODULE_FILE)).catch((e: Error) => this.opts.log?.(`warm pool: ${e.message}`));
      else await wp.request('GET', '/_/health', undefined, 2000).catch(() => {});
      if (this.closed || !wp.running) { await wp.stop(500); if (!this.closed) throw new Error('exited right after start'); return; }
      this.failures[kind] = 0;
      this.idle[kind].push(wp);
      void wp.waitExit().then(() => {
        const i = this.idle[kind].indexOf(wp);
        if (i >= 0) { this.idle[kind].splice(i, 1); this.opts.log?.(`warm pool: an idle ${kind} process exited; refilling`); this.refill(kind); }
      });
    } catch (err) {
      this.failures[kind]++;
      this.opts.log?.(`warm pool: starting a ${kind} process failed: ${(err as Error).message}`);
      const t = setTimeout(() => { this.retryTimers.delete(t); this.refill(kind); }, Math.min(30_000, 500 * 2 ** this.failures[kind]));
      t.unref();
      this.retryTimers.add(t);
    } finally {
      this.spawning[kind]--;
    }
  }
}
