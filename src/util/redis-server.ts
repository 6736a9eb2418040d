import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from './managed-process.js';
import { getFreePort, waitForPort } from './net.js';

export interface RedisServerOptions {
  host?: string;
  port?: number;
  /** Extra redis-server arguments, e.g. ['--requirepass', 'x'] or ['--cluster-enabled', 'yes']. */
  args?: string[];
  /** redis-server binary; defaults to the one on PATH. */
  binary?: string;
}

/** A redis-server process without persistence on a loopback port, in its own temp dir. */
export class RedisServer {
  private constructor(readonly host: string, readonly port: number, readonly process: ManagedProcess, readonly dir: string) {}

  get address(): string { return `${this.host}:${this.port}`; }

  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? (await getFreePort(host));
    const dir = mkdtempSync(join(tmpdir(), 'trellis-redis-'));
    const args = [
      '--bind', host, '--port', String(port), '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no', '--logfile', '', '--protected-mode', 'no',
      ...(opts.args ?? []),
    ];
    const proc = new ManagedProcess(opts.binary ?? 'redis-server', args, { cwd: dir });
    try {
      await waitForPort(port, host, 10_000);
    } catch (err) {
      await proc.stop();
      throw new Error(`redis-server on ${host}:${port} did not start: ${(err as Error).message}\n${proc.recentOutput()}`);
    }
    return new RedisServer(host, port, proc, dir);
  }

  async stop(): Promise<void> {
    await this.process.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
