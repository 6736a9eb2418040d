/** Terminal output of `trellis fn`: tables and the describe view (faas-cli-like). */
import type { GatewayClient } from './gateway-client.js';

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');

export function durationMs(s: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(s)!;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

export function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) out(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 2))).join(''));
}

export function describeFunction(gateway: string, s: Awaited<ReturnType<GatewayClient['get']>> & object): void {
  const t = (s.trellis ?? {}) as { runtime?: string; mode?: string; version?: number; concurrency?: number; timeout?: string;
    health?: { restarts: number; crashLoop: boolean; backoffUntil?: number; lastError?: string };
    instances?: { id: string; state: string; version: number; pid?: number; port: number; startedAt: string }[] };
  const kv = (k: string, v: unknown) => out(`${(k + ':').padEnd(20)}${v === undefined || v === '' ? '-' : String(v)}`);
  const map = (m: Record<string, string>) => Object.entries(m).map(([k, v]) => `${k}=${v}`).join(', ');
  kv('Name', s.name);
  kv('Status', s.availableReplicas > 0 ? 'Ready' : s.replicas === 0 ? 'Scaled to zero' : 'Not ready');
  kv('Replicas', s.replicas);
  kv('Available Replicas', s.availableReplicas);
  kv('Invocations', s.invocationCount);
  kv('Image', s.image);
  kv('Runtime', t.runtime ? `${t.runtime} (${t.mode ?? 'http'} mode)` : undefined);
  kv('Function Process', s.envProcess);
  kv('Version', t.version);
  kv('Timeout', t.timeout);
  kv('Max In-flight', t.concurrency === 0 ? 'unlimited' : t.concurrency);
  kv('URL', `${gateway}/function/${s.name}`);
  kv('Async URL', `${gateway}/async-function/${s.name}`);
  kv('Labels', map(s.labels ?? {}));
  kv('Annotations', map(s.annotations ?? {}));
  kv('Environment', map(s.envVars ?? {}));
  kv('Secrets', (s.secrets ?? []).join(', '));
  if (t.health) {
    kv('Restarts', t.health.restarts);
    const backoff = t.health.backoffUntil ? ` (next start in ${Math.max(0, t.health.backoffUntil - Date.now())} ms)` : '';
    kv('Crash Loop', t.health.crashLoop ? `yes${backoff}` : 'no');
    kv('Last Error', t.health.lastError);
  }
  if (t.instances?.length) {
    out('Instances:');
    for (const i of t.instances) out(`  ${i.id}  ${i.state}  v${i.version}  pid ${i.pid ?? '-'}  port ${i.port}  since ${i.startedAt}`);
  }
}
