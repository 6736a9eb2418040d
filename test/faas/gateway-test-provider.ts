/**
 * A small RuntimeProvider for gateway tests: every instance is a real `node` child process
 * serving HTTP on its own loopback port (echo, hash, stream, hang, crash endpoints). It
 * stands in for the process provider so the gateway can be tested on its own.
 */
import { randomUUID } from 'node:crypto';
import { ManagedProcess } from '../../src/util/managed-process.js';
import { getFreePort, waitForPort } from '../../src/util/net.js';
import type {
  FunctionHealth, InstanceInfo, LogLine, ProviderEvent, RuntimeProvider,
} from '../../src/faas/runtime/provider.js';
import type { FunctionRecord } from '../../src/faas/types.js';

const SERVER = String.raw`
const http = require('node:http');
const crypto = require('node:crypto');
const port = Number(process.env.PORT);
http.createServer((req, res) => {
  if (req.url === '/fast') { req.resume(); req.on('end', () => res.end('hello\n')); return; }
  const u = new URL(req.url, 'http://x');
  if (u.pathname === '/crash') process.exit(3);
  if (u.pathname === '/hang') return;
  if (u.pathname === '/crash-mid') { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('partial'); setTimeout(() => process.exit(4), 50); return; }
  if (u.pathname === '/echo') {
    res.writeHead(200, { 'content-type': req.headers['content-type'] || 'application/octet-stream' });
    req.pipe(res);
    return;
  }
  if (u.pathname === '/big') {
    let left = Number(u.searchParams.get('n'));
    const chunk = Buffer.alloc(65536, 'abcdefghijklmnopqrstuvwxyz');
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = () => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        if (!res.write(part)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    pump();
    return;
  }
  let n = 0;
  const h = crypto.createHash('sha256');
  req.on('data', (d) => { n += d.length; h.update(d); });
  req.on('end', () => {
    const body = JSON.stringify({ fn: process.env.FN, version: process.env.VERSION, env: process.env.GREETING,
      method: req.method, url: req.url, headers: req.headers, bodyLength: n, sha256: h.digest('hex') });
    res.writeHead(u.pathname === '/status' ? Number(u.searchParams.get('code')) : 200, { 'content-type': 'application/json' });
    res.end(body);
    console.log('handled ' + req.method + ' ' + req.url);
  });
}).listen(port, '127.0.0.1', () => console.log('ready on ' + port));
`;

interface Inst { info: InstanceInfo; proc: ManagedProcess }

export class TestProvider implements RuntimeProvider {
  private fns = new Map<string, { record: FunctionRecord; instances: Inst[] }>();
  private lines: LogLine[] = [];
  private followers = new Set<(l: LogLine) => void>();
  private listeners = new Set<(e: ProviderEvent) => void>();

  async deploy(fn: FunctionRecord): Promise<void> {
    const old = this.fns.get(fn.name)?.instances ?? [];
    this.fns.set(fn.name, { record: fn, instances: [...old] });
    for (let i = 0; i < fn.replicas; i++) await this.startInstance(fn.name);
    for (const o of old) await this.stopInstance(o.info.id);
  }

  async scale(name: string, replicas: number): Promise<void> {
    const f = this.fns.get(name);
    if (!f) throw new Error(`unknown function ${name}`);
    f.record = { ...f.record, replicas };
    while (f.instances.length < replicas) await this.startInstance(name);
    while (f.instances.length > replicas) await this.stopInstance(f.instances[f.instances.length - 1].info.id);
  }

  async startInstance(name: string): Promise<InstanceInfo> {
    const f = this.fns.get(name);
    if (!f) throw new Error(`unknown function ${name}`);
    const port = await getFreePort();
    const id = `${name}-${randomUUID().slice(0, 8)}`;
    const proc = new ManagedProcess(process.execPath, ['-e', SERVER], {
      env: { ...process.env, PORT: String(port), FN: name, VERSION: String(f.record.version), ...(f.record.spec.envVars ?? {}) },
    });
    const info: InstanceInfo = { id, functionName: name, version: f.record.version, host: '127.0.0.1', port, state: 'starting', pid: proc.proc.pid, startedAt: Date.now() };
    const inst = { info, proc };
    f.instances.push(inst);
    const capture = (stream: 'stdout' | 'stderr') => (b: Buffer) => {
      for (const text of b.toString().split('\n').filter(Boolean)) {
        const l: LogLine = { timestamp: new Date().toISOString(), name, instance: id, stream, text };
        this.lines.push(l);
        for (const fl of this.followers) fl(l);
      }
    };
    proc.proc.stdout?.on('data', capture('stdout'));
    proc.proc.stderr?.on('data', capture('stderr'));
    void proc.waitExit().then(() => {
      info.state = 'crashed';
      const cur = this.fns.get(name);
      if (cur) cur.instances = cur.instances.filter((x) => x !== inst);
      for (const l of this.listeners) l({ type: 'instance-gone', instance: info, reason: 'exited' });
    });
    await waitForPort(port, '127.0.0.1', 10_000);
    info.state = 'ready';
    info.startupMs = Date.now() - info.startedAt;
    for (const l of this.listeners) l({ type: 'instance-ready', instance: info });
    return info;
  }

  async stopInstance(id: string): Promise<void> {
    for (const f of this.fns.values()) {
      const inst = f.instances.find((i) => i.info.id === id);
      if (inst) {
        inst.info.state = 'draining';
        f.instances = f.instances.filter((i) => i !== inst);
        await inst.proc.stop(1000);
      }
    }
  }

  async remove(name: string): Promise<void> {
    const f = this.fns.get(name);
    if (!f) return;
    this.fns.delete(name);
    await Promise.all(f.instances.map((i) => i.proc.stop(1000)));
  }

  instances(name: string): InstanceInfo[] { return (this.fns.get(name)?.instances ?? []).map((i) => i.info); }
  health(): FunctionHealth { return { restarts: 0, crashLoop: false }; }
  logs(name: string, opts: { tail?: number; since?: Date }): LogLine[] {
    const mine = this.lines.filter((l) => l.name === name && (!opts.since || new Date(l.timestamp) >= opts.since));
    return opts.tail !== undefined ? mine.slice(-opts.tail) : mine;
  }
  followLogs(name: string, onLine: (l: LogLine) => void): () => void {
    const f = (l: LogLine) => { if (l.name === name) onLine(l); };
    this.followers.add(f);
    return () => this.followers.delete(f);
  }
  on(listener: (e: ProviderEvent) => void): () => void { this.listeners.add(listener); return () => this.listeners.delete(listener); }
  async close(): Promise<void> {
    await Promise.all([...this.fns.keys()].map((n) => this.remove(n)));
  }
}
