/**
 * A small RuntimeProvider for activator tests that spawns real node HTTP processes (one per
 * instance). Behaviour per function from envVars: DELAY_MS (response delay; `?ms=` overrides),
 * NEVER_READY=1 (listens but never reports ready), EXIT_AT_START=1 (exits at once).
 */
import { randomUUID } from 'node:crypto';
import { ManagedProcess } from '../../src/util/managed-process.js';
import type { InstanceInfo, ProviderEvent, RuntimeProvider } from '../../src/faas/runtime/provider.js';
import type { FunctionRecord } from '../../src/faas/types.js';

const SERVER = `
const http = require('node:http');
const delay = Number(process.env.DELAY_MS || 0);
const srv = http.createServer((req, res) => {
  const q = new URL(req.url, 'http://x').searchParams.get('ms');
  setTimeout(() => res.end(process.env.INSTANCE_ID), q === null ? delay : Number(q));
});
if (process.env.EXIT_AT_START) process.exit(3);
srv.listen(0, '127.0.0.1', () => { if (!process.env.NEVER_READY) process.stdout.write('PORT ' + srv.address().port + '\\n'); });
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
`;

interface Inst { info: InstanceInfo; proc: ManagedProcess }

export class FixtureProvider implements RuntimeProvider {
  private readonly byId = new Map<string, Inst>();
  private readonly listeners = new Set<(e: ProviderEvent) => void>();
  /** Highest number of live instances per function ever seen. */
  readonly peak = new Map<string, number>();
  starts = 0;

  constructor(private readonly lookup: (name: string) => FunctionRecord | undefined) {}

  async deploy(): Promise<void> {}
  async scale(): Promise<void> {}
  async remove(): Promise<void> {}
  health() { return { restarts: 0, crashLoop: false }; }
  logs() { return []; }
  followLogs() { return () => {}; }
  on(l: (e: ProviderEvent) => void): () => void { this.listeners.add(l); return () => this.listeners.delete(l); }

  instances(name: string): InstanceInfo[] {
    return [...this.byId.values()].filter((i) => i.info.functionName === name).map((i) => i.info);
  }

  startInstance(name: string): Promise<InstanceInfo> {
    const rec = this.lookup(name);
    if (!rec) return Promise.reject(new Error(`no function ${name}`));
    this.starts++;
    const id = `${name}-${randomUUID().slice(0, 8)}`;
    const proc = new ManagedProcess(process.execPath, ['-e', SERVER], { env: { ...process.env, ...rec.spec.envVars, INSTANCE_ID: id } });
    const info: InstanceInfo = { id, functionName: name, version: rec.version, host: '127.0.0.1', port: 0, state: 'starting', startedAt: Date.now(), pid: proc.proc.pid };
    this.byId.set(id, { info, proc });
    const live = this.instances(name).length;
    this.peak.set(name, Math.max(this.peak.get(name) ?? 0, live));
    return new Promise((resolve, reject) => {
      let buf = '';
      const onData = (b: Buffer) => {
        buf += b.toString();
        const m = /PORT (\d+)\n/.exec(buf);
        if (!m) return;
        proc.proc.stdout?.off('data', onData);
        info.port = Number(m[1]);
        info.state = 'ready';
        info.startupMs = Date.now() - info.startedAt;
        resolve({ ...info });
        this.emit({ type: 'instance-ready', instance: { ...info } });
      };
      proc.proc.stdout?.on('data', onData);
      void proc.waitExit().then((code) => {
        const wasReady = info.state === 'ready' || info.state === 'draining';
        info.state = 'stopped';
        this.byId.delete(id);
        if (!wasReady) reject(new Error(`instance ${id} exited with code ${code} before it was ready`));
        this.emit({ type: 'instance-gone', instance: { ...info }, reason: `exited (${code})` });
      });
    });
  }

  async stopInstance(id: string, drainMs = 5000): Promise<void> {
    const i = this.byId.get(id);
    if (!i) return;
    i.info.state = 'draining';
    await i.proc.stop(drainMs);
  }

  async close(): Promise<void> {
    await Promise.all([...this.byId.values()].map((i) => i.proc.stop(1000)));
  }

  private emit(e: ProviderEvent): void { for (const l of this.listeners) l(e); }
}
