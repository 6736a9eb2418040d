import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * A child process we own: started with a command line, stopped with SIGTERM then SIGKILL.
 * Every live one is also killed when this process exits, so a crash never leaks servers.
 */
export class ManagedProcess {
  readonly proc: ChildProcess;
  private exited: Promise<number | null>;
  private output = '';

  constructor(readonly command: string, readonly args: string[], opts: SpawnOptions = {}) {
    this.proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const keep = (b: Buffer) => { this.output = (this.output + b.toString()).slice(-8192); };
    this.proc.stdout?.on('data', keep);
    this.proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code) => { live.delete(this); resolve(code); });
      this.proc.once('error', (err) => { this.output += String(err); live.delete(this); resolve(-1); });
    });
    live.add(this);
  }

  /** The last 8 KiB the process printed, for error messages. */
  recentOutput(): string { return this.output; }

  get running(): boolean { return this.proc.exitCode === null && this.proc.signalCode === null && live.has(this); }

  waitExit(): Promise<number | null> { return this.exited; }

  signal(sig: NodeJS.Signals): void { if (this.running) this.proc.kill(sig); }

  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) { await this.exited; return; }
    this.proc.kill('SIGTERM');
    // A SIGSTOPped process cannot handle SIGTERM; let it continue so it can exit.
    this.proc.kill('SIGCONT');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

const live = new Set<ManagedProcess>();
process.once('exit', () => { for (const p of live) { try { p.proc.kill('SIGKILL'); } catch { /* gone */ } } });
