/**
 * Governance numbers of a pool as JSON (/stats, ProxyStats.governance) and as Redis INFO lines
 * (appended to the proxy's INFO section; per-command lines in Redis' cmdstat format).
 */
import type { PoolGovernance } from '../governance/pool-governance.js';
import { byCommand, type CommandRow } from './command-stats.js';

export interface BackendGovernanceStats {
  name: string;
  healthy: boolean;
  reason: string;
  ejections: number;
  health_checks: number;
  health_check_failures: number;
  auth_failures: number;
  last_auth_error: string;
  pending_overflows: number;
}

export interface GovernanceStats {
  auth_enabled: boolean;
  downstream_bytes_received: number;
  downstream_bytes_sent: number;
  rejected: Record<string, number>;
  commands: Array<{ command: string; caller: string; total: number; errors: number; latency_seconds_sum: number }>;
  callers: Array<{ caller: string; total: number; errors: number }>;
  backends: BackendGovernanceStats[];
  retries?: { total: number; budget_overflows: number };
  mirror?: { sent: number; errors: number; skipped_cross_shard: number; dropped: number };
}

export function backendGovernance(g: PoolGovernance): BackendGovernanceStats[] {
  return g.router.backends.map((b, i) => {
    const h = g.health?.state[i];
    const conn = b.authInfo();
    return {
      name: b.name, healthy: h?.healthy ?? true, reason: h?.reason ?? '', ejections: h?.ejections ?? 0,
      health_checks: h?.checks ?? 0, health_check_failures: h?.checkFailures ?? 0,
      auth_failures: conn.authFailures, last_auth_error: conn.lastAuthError, pending_overflows: g.pendingOverflows[i],
    };
  });
}

function callers(rows: CommandRow[]): GovernanceStats['callers'] {
  const m = new Map<string, { caller: string; total: number; errors: number }>();
  for (const r of rows) {
    const c = m.get(r.caller) ?? { caller: r.caller, total: 0, errors: 0 };
    c.total += r.total; c.errors += r.errors;
    m.set(r.caller, c);
  }
  return [...m.values()].sort((a, b) => b.total - a.total);
}

export function governanceStats(g: PoolGovernance): GovernanceStats {
  const rows = g.stats.snapshot();
  const bytes = g.bytes();
  const out: GovernanceStats = {
    auth_enabled: g.auth !== null,
    downstream_bytes_received: bytes.in,
    downstream_bytes_sent: bytes.out,
    rejected: { ...g.rejected },
    commands: rows.map((r) => ({ command: r.command, caller: r.caller, total: r.total, errors: r.errors, latency_seconds_sum: r.sumSeconds })),
    callers: callers(rows),
    backends: backendGovernance(g),
  };
  if (g.retry) out.retries = { total: g.retry.total, budget_overflows: g.retry.overflows };
  if (g.mirror) out.mirror = g.mirror.stats();
  return out;
}

/** Lines for the `# Proxy` INFO section plus `# Proxy_commandstats` and `# Proxy_callers`. */
export function governanceInfo(g: PoolGovernance): string[] {
  const st = governanceStats(g);
  const lines = [
    `auth_enabled:${st.auth_enabled ? 1 : 0}`,
    `downstream_bytes_received:${st.downstream_bytes_received}`, `downstream_bytes_sent:${st.downstream_bytes_sent}`,
  ];
  for (const [k, v] of Object.entries(st.rejected)) lines.push(`rejected_${k}:${v}`);
  st.backends.forEach((b, i) => {
    lines.push(`backend${i}_health:healthy=${b.healthy ? 1 : 0},ejections=${b.ejections},checks=${b.health_checks},check_failures=${b.health_check_failures},auth_failures=${b.auth_failures},pending_overflows=${b.pending_overflows}${b.reason ? `,reason=${b.reason.replace(/[\r\n,]/g, ' ')}` : ''}`);
  });
  if (st.retries) lines.push(`retries:${st.retries.total}`, `retry_budget_overflows:${st.retries.budget_overflows}`);
  if (st.mirror) lines.push(`mirror_sent:${st.mirror.sent}`, `mirror_errors:${st.mirror.errors}`, `mirror_dropped:${st.mirror.dropped}`);
  lines.push('', '# Proxy_commandstats');
  const rows = g.stats.snapshot();
  for (const [cmd, c] of byCommand(rows)) {
    if (c.total === 0) continue;
    const usec = Math.round(c.sumSeconds * 1e6);
    lines.push(`cmdstat_${cmd}:calls=${c.total},usec=${usec},usec_per_call=${(usec / c.total).toFixed(2)},failed_calls=${c.errors}`);
  }
  lines.push('', '# Proxy_callers');
  callers(rows).forEach((c, i) => lines.push(`caller${i}:name=${c.caller.replace(/[\r\n,=]/g, '_')},calls=${c.total},failed_calls=${c.errors}`));
  return lines;
}
