/**
 * A running watchdog process, generic until `load()` specialises it with a function. The
 * provider spawns one per instance; a warm pool can spawn ahead and load later.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from '../../util/managed-process.js';
import { lineSplitter } from './log-buffer.js';
import { CONTROL_HEADER, CONTROL_TOKEN_ENV, type ChannelReply, type ChannelRequest, type LoadSpec, type ReportMessage, type WatchdogStats } from './watchdog/protocol.js';
import { PYTHON_WATCHDOG_SOURCE } from './watchdog/python-watchdog.js';

export type WatchdogKind = 'node' | 'python3';

export interface SpawnWatchdogOptions {
  kind: WatchdogKind;
  /** Full environment of the process (nothing is inherited from the gateway). */
  env: Record<string, string>;
  cwd: string;
  /** A directory we may write the python watchdog script to. */
  runDir: string;
  /** node: --max-old-space-size; python3: prlimit --as (when prlimit exists). */
  memoryLimitBytes?: number;
  host?: string;
  spawnTimeoutMs?: number;
  pythonBin?: string;
}

const here = fileURLToPath(import.meta.url);
const fromSource = here.endsWith('.ts');
const WATCHDOG_DIR = join(dirname(here), 'watchdog');
const NODE_WATCHDOG = join(WATCHDOG_DIR, fromSource ? 'main.ts' : 'main.js');

let compiled: Promise<string> | undefined;

/**
 * The node watchdog's command line. Running from TypeScript sources (tests, dev), the
 * watchdog is transpiled once into a temp dir, so instances start and serve as plain JS
 * (the tsx loader costs ~0.3 s per start and CPU per request); tsx is the fallback.
 */
async function nodeWatchdogArgs(): Promise<string[]> {
  if (!fromSource) return [NODE_WATCHDOG];
  compiled ??= compileWatchdog();
  try { return [await compiled]; } catch { return ['--import', import.meta.resolve('tsx'), NODE_WATCHDOG]; }
}

async function compileWatchdog(): Promise<string> {
  const files = readdirSync(WATCHDOG_DIR).filter((f) => f.endsWith('.ts')).sort();
  const h = createHash('sha256');
  for (const f of files) h.update(f).update(readFileSync(join(WATCHDOG_DIR, f)));
  const outDir = join(tmpdir(), `trellis-watchdog-${h.digest('hex').slice(0, 16)}`);
  const main = join(outDir, 'main.js');
  if (existsSync(main)) return main;
  const ts = (await import('typescript')).default;
  const stage = `${outDir}.tmp-${randomBytes(4).toString('hex')}`;
  await fsp.mkdir(stage, { recursive: true });
  await fsp.writeFile(join(stage, 'package.json'), '{"type":"module"}\n');
  for (const f of files) {
    const out = ts.transpileModule(readFileSync(join(WATCHDOG_DIR, f), 'utf8'), { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
    await fsp.writeFile(join(stage, f.replace(/\.ts$/, '.js')), out.outputText);
  }
  // Another process may have won the race: its copy is identical.
  await fsp.rename(stage, outDir).catch(() => fsp.rm(stage, { recursive: true, force: true }));
  if (!existsSync(main)) throw new Error('watchdog compile failed');
  return main;
}
export const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit', '/usr/local/bin/prlimit'].find((p) => existsSync(p));

export class WatchdogProcess {
  private sink?: (stream: 'stdout' | 'stderr', text: string) => void;
  private early: { stream: 'stdout' | 'stderr'; text: string }[] = [];
  /** A fatal reason the watchdog reported before dying (e.g. the stall monitor). */
  fatal?: string;
  readonly startedAt = Date.now();
  private nextId = 1;
  private readonly replies = new Map<number, (r: ChannelReply) => void>();

  private constructor(readonly proc: ManagedProcess, readonly token: string, readonly host: string, readonly port: number, readonly kind: WatchdogKind) {}

  /** Sends every stdout/stderr line to `fn` (replaying what was printed before). */
  attachOutput(fn: (stream: 'stdout' | 'stderr', text: string) => void): void {
    this.sink = fn;
    for (const l of this.early.splice(0)) fn(l.stream, l.text);
  }

  /** @internal */
  line(stream: 'stdout' | 'stderr', text: string): void {
    if (this.sink) this.sink(stream, text);
    else if (this.early.length < 1000) this.early.push({ stream, text });
  }

  get pid(): number | undefined { return this.proc.proc.pid; }
  get running(): boolean { return this.proc.running; }
  waitExit(): Promise<number | null> { return this.proc.waitExit(); }
  exitDescription(): string {
    const p = this.proc.proc;
    return p.signalCode ? `signal ${p.signalCode}` : `code ${p.exitCode}`;
  }

  static async spawn(o: SpawnWatchdogOptions): Promise<WatchdogProcess> {
    const token = randomBytes(16).toString('hex');
    const host = o.host ?? '127.0.0.1';
    const env = { ...o.env, [CONTROL_TOKEN_ENV]: token, TRELLIS_WATCHDOG_HOST: host };
    let cmd: string;
    let args: string[];
    if (o.kind === 'node') {
      cmd = process.execPath;
      const mem = o.memoryLimitBytes ? [`--max-old-space-size=${Math.max(16, Math.floor(o.memoryLimitBytes / 1024 / 1024))}`] : [];
      args = [...mem, ...(await nodeWatchdogArgs())];
    } else {
      const script = join(o.runDir, 'trellis_watchdog.py');
      if (!existsSync(script)) writeFileSync(script, PYTHON_WATCHDOG_SOURCE);
      const py = [o.pythonBin ?? 'python3', '-u', script];
      [cmd, ...args] = o.memoryLimitBytes && PRLIMIT ? [PRLIMIT, `--as=${o.memoryLimitBytes}`, '--', ...py] : py;
    }
    const mp = new ManagedProcess(cmd, args, { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let wp: WatchdogProcess | undefined;
    const early: { stream: 'stdout' | 'stderr'; text: string }[] = [];
    const emit = (stream: 'stdout' | 'stderr') => lineSplitter((text) => { if (wp) wp.line(stream, text); else if (early.length < 1000) early.push({ stream, text }); });
    const out = emit('stdout');
    const err = emit('stderr');
    mp.proc.stdout?.on('data', out.write);
    mp.proc.stderr?.on('data', err.write);
    mp.proc.once('exit', () => { out.flush(); err.flush(); });

    const report = mp.proc.stdio[3] as Readable | null;
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { void mp.stop(500); reject(new Error(`watchdog did not start within ${o.spawnTimeoutMs ?? 15_000} ms: ${mp.recentOutput().trim().slice(-500)}`)); }, o.spawnTimeoutMs ?? 15_000);
      const lines = lineSplitter((text) => {
        let msg: ReportMessage;
        try { msg = JSON.parse(text) as ReportMessage; } catch { return; }
        if ('port' in msg) { clearTimeout(timer); resolve(msg.port); }
        else if ('fatal' in msg && wp) wp.fatal = msg.fatal;
        else if ('id' in msg) wp?.replied(msg as ChannelReply);
      });
      report?.on('data', lines.write);
      report?.on('error', () => {});
      void mp.waitExit().then(() => {
        clearTimeout(timer);
        reject(new Error(`watchdog exited during start-up (${mp.proc.signalCode ?? `code ${mp.proc.exitCode}`}): ${mp.recentOutput().trim().slice(-500)}`));
      });
    });
    wp = new WatchdogProcess(mp, token, host, port, o.kind);
    wp.early.push(...early);
    return wp;
  }

  /**
   * Loads the function; resolves with the load time once the watchdog serves it, rejects with
   * the watchdog's reason. Node watchdogs are asked over their fd 3 channel (no connection to
   * open, no HTTP exchange); python ones with POST /_/load.
   */
  async load(spec: LoadSpec, timeoutMs = 30_000): Promise<number> {
    if (this.kind === 'node') {
      const r = await this.call({ load: spec }, timeoutMs, 'load');
      if (r.error !== undefined) throw new Error(`load failed: ${r.error}`);
      return r.loadMs ?? 0;
    }
    const r = await this.request('POST', '/_/load', JSON.stringify(spec), timeoutMs);
    let parsed: { loadMs?: number; error?: string } = {};
    try { parsed = JSON.parse(r.body) as typeof parsed; } catch { /* keep raw */ }
    if (r.status !== 200) throw new Error(`load failed: ${parsed.error ?? r.body}`);
    return parsed.loadMs ?? 0;
  }

  /** Knative-style aggressive probing of /_/ready until 200 (or 429: ready but busy). */
  async waitReady(timeoutMs = 30_000, intervalMs = 20): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`instance exited before ready (${this.exitDescription()})`);
      try {
        const r = await this.request('GET', '/_/ready', undefined, 1000);
        if (r.status === 200 || r.status === 429) return;
        last = `${r.status} ${r.body.trim()}`;
      } catch (e) { last = (e as Error).message; }
      await new Promise((res) => setTimeout(res, intervalMs));
    }
    throw new Error(`not ready after ${timeoutMs} ms (${last})`);
  }

  /**
   * Node only: has an idle process rehearse a cold start with the throwaway handler at
   * `handlerPath` (see watchdog/main.ts); resolves when done, rejects with the reason.
   */
  async warm(handlerPath: string, timeoutMs = 10_000): Promise<void> {
    if (this.kind !== 'node') throw new Error(`a ${this.kind} watchdog has no warm-up rehearsal`);
    const r = await this.call({ warm: { handlerPath } }, timeoutMs, 'warm-up');
    if (r.error !== undefined) throw new Error(`warm-up failed: ${r.error}`);
  }

  /** @internal A reply line on the report channel. */
  replied(r: ChannelReply): void {
    const settle = this.replies.get(r.id);
    if (settle) { this.replies.delete(r.id); settle(r); }
  }

  /** One request on the node watchdog's channel; rejects on timeout or when the process exits. */
  private call(msg: Omit<ChannelRequest, 'id'>, timeoutMs: number, what: string): Promise<ChannelReply> {
    const channel = this.proc.proc.stdio[3] as Writable | null;
    if (!channel || !this.running) return Promise.reject(new Error(`${what}: the watchdog is not running`));
    const id = this.nextId++;
    return new Promise<ChannelReply>((resolve, reject) => {
      const timer = setTimeout(() => { this.replies.delete(id); reject(new Error(`${what} timed out after ${timeoutMs} ms`)); }, timeoutMs);
      const settle = (r: ChannelReply) => { clearTimeout(timer); resolve(r); };
      this.replies.set(id, settle);
      void this.waitExit().then(() => {
        if (!this.replies.delete(id)) return;
        clearTimeout(timer);
        reject(new Error(`${what}: the watchdog exited (${this.exitDescription()})`));
      });
      channel.write(JSON.stringify({ ...msg, id }) + '\n');
    });
  }

  async drain(): Promise<void> { await this.request('POST', '/_/drain', '', 2000); }

  /**
   * Stops new work, then waits (at most maxMs) until nothing is in flight and no request
   * arrived for quietMs — requests routed just before the drain still land and finish.
   */
  async drainQuietly(maxMs: number, quietMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    await this.drain().catch(() => {});
    await new Promise((r) => setTimeout(r, Math.min(quietMs, maxMs)));
    while (Date.now() < deadline && this.running) {
      const s = await this.stats().catch(() => undefined);
      if (!s || (s.inflight === 0 && Date.now() - s.lastRequestAt >= quietMs)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stats(): Promise<WatchdogStats> {
    const r = await this.request('GET', '/_/stats', undefined, 2000);
    return JSON.parse(r.body) as WatchdogStats;
  }

  stop(graceMs = 5000): Promise<void> { return this.proc.stop(graceMs); }

  request(method: string, path: string, body: string | undefined, timeoutMs: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.host, port: this.port, method, path, agent: false, timeout: timeoutMs, headers: { [CONTROL_HEADER]: this.token, 'content-type': 'application/json', ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.once('error', reject);
      });
      req.once('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end(body);
    });
  }
}
