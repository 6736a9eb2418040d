/**
 * Managed backends: redis-server processes Trellis starts and stops itself (no persistence,
 * loopback only), so `trellis up` gives a newcomer a sharded Redis in one command.
 */
import net from 'node:net';
import { RedisServer } from '../util/redis-server.js';

/** Asks the server on host:port for its process_id, to be sure it is ours and not a squatter. */
function serverPid(host: string, port: number, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no INFO reply from ${host}:${port}`)); }, timeoutMs);
    sock.on('connect', () => sock.write('INFO server\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const m = /process_id:(\d+)/.exec(buf);
      if (m) { clearTimeout(timer); sock.destroy(); resolve(Number(m[1])); }
    });
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

async function startOne(host: string, port: number | undefined, binary?: string, args?: string[]): Promise<RedisServer> {
  const s = await RedisServer.start({ host, port, binary, args });
  try {
    const pid = await serverPid(s.host, s.port);
    if (pid !== s.process.proc.pid) throw new Error(`${s.address} is already in use by another process (pid ${pid})`);
  } catch (err) {
    await s.stop();
    throw err;
  }
  return s;
}

export interface ManagedBackendsOptions {
  /** How many redis-server processes (default 3). */
  count?: number;
  /** Loopback address to bind (default 127.0.0.1). */
  host?: string;
  /** Fixed ports, one per server; free ports are picked when absent. */
  ports?: number[];
  /** redis-server binary (default: the one on PATH). */
  binary?: string;
  /** Extra redis-server arguments for every server. */
  args?: string[];
}

export class ManagedBackends {
  private stopped = false;

  private constructor(readonly servers: readonly RedisServer[]) {}

  /** host:port of every server, in start order. */
  get addresses(): string[] {
    return this.servers.map((s) => s.address);
  }

  static async start(opts: ManagedBackendsOptions = {}): Promise<ManagedBackends> {
    const count = opts.ports?.length ?? opts.count ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 64) {
      throw new Error(`managed backends: count must be an integer between 1 and 64, got ${count}`);
    }
    const host = opts.host ?? '127.0.0.1';
    if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost') {
      throw new Error(`managed backends: host must be a loopback address, got "${host}"`);
    }
    const results = await Promise.allSettled(
      Array.from({ length: count }, (_, i) => startOne(host, opts.ports?.[i], opts.binary, opts.args)),
    );
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => s.stop()));
      throw new Error(`managed backends: ${(failed.reason as Error).message}`);
    }
    return new ManagedBackends(started);
  }

  /** Stops every server (SIGTERM, then SIGKILL after a grace period); safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}
