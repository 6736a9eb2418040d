/**
 * Prometheus exposition (prom-client, own Registry) of every pool of a process. Nothing is
 * counted through prom-client on the hot path: each metric is a collector that reads the
 * proxies' plain counters when scraped. Envoy's `redis.<prefix>.command.<cmd>.{total,success,
 * error,latency}` become trellis_redis_command_{total,success_total,errors_total,latency_seconds}
 * with pool, command and caller labels.
 */
import { Registry } from 'prom-client';
import type { RedisProxy } from '../proxy.js';
import { LATENCY_BUCKETS } from './command-stats.js';
import { backendGovernance } from './governance-report.js';

type Labels = Record<string, string | number>;
interface Value { labels: Labels; value: number; metricName?: string }
type MetricType = 'counter' | 'gauge' | 'histogram';

function collector(name: string, help: string, type: MetricType, collect: () => Value[]) {
  return {
    name, help, type, aggregator: 'sum' as const,
    get: async () => ({ name, help, type, aggregator: 'sum' as const, values: collect() }),
    reset: () => {},
  };
}

export function createProxyRegistry(proxies: () => readonly RedisProxy[]): Registry {
  const reg = new Registry();
  const add = (name: string, help: string, type: MetricType, collect: () => Value[]) => {
    // registerMetric accepts any object with name/get; collectors keep the hot path free of prom-client.
    reg.registerMetric(collector(name, help, type, collect) as unknown as Parameters<Registry['registerMetric']>[0]);
  };
  const perPool = (f: (p: RedisProxy, pool: string) => Value[]) => () => proxies().flatMap((p) => f(p, p.config.name));
  const rows = (p: RedisProxy) => p.gov?.stats.snapshot() ?? [];

  add('trellis_redis_command_total', 'Commands received, by pool, command and caller (Envoy command.<cmd>.total)', 'counter',
    perPool((p, pool) => rows(p).map((r) => ({ labels: { pool, command: r.command, caller: r.caller }, value: r.total }))));
  add('trellis_redis_command_success_total', 'Commands answered without an error reply (Envoy command.<cmd>.success)', 'counter',
    perPool((p, pool) => rows(p).map((r) => ({ labels: { pool, command: r.command, caller: r.caller }, value: r.total - r.errors }))));
  add('trellis_redis_command_errors_total', 'Commands answered with an error reply (Envoy command.<cmd>.error)', 'counter',
    perPool((p, pool) => rows(p).map((r) => ({ labels: { pool, command: r.command, caller: r.caller }, value: r.errors }))));
  add('trellis_redis_command_latency_seconds', 'Time from request to reply as seen by the proxy (Envoy command.<cmd>.latency)', 'histogram',
    perPool((p, pool) => rows(p).flatMap((r) => {
      const labels = { pool, command: r.command, caller: r.caller };
      const out: Value[] = [];
      let cum = 0;
      LATENCY_BUCKETS.forEach((le, i) => { cum += r.buckets[i]; out.push({ metricName: 'trellis_redis_command_latency_seconds_bucket', labels: { ...labels, le }, value: cum }); });
      out.push({ metricName: 'trellis_redis_command_latency_seconds_bucket', labels: { ...labels, le: '+Inf' }, value: r.total });
      out.push({ metricName: 'trellis_redis_command_latency_seconds_sum', labels, value: r.sumSeconds });
      out.push({ metricName: 'trellis_redis_command_latency_seconds_count', labels, value: r.total });
      return out;
    })));

  const backendMetric = (name: string, help: string, type: MetricType, pick: (p: RedisProxy, i: number) => number) =>
    add(name, help, type, perPool((p, pool) => p.stats().backends.map((b, i) => ({ labels: { pool, backend: b.name }, value: pick(p, i) }))));
  const bst = (p: RedisProxy, i: number) => p.stats().backends[i];
  const gst = (p: RedisProxy, i: number) => (p.gov ? backendGovernance(p.gov)[i] : undefined);
  backendMetric('trellis_redis_backend_requests_total', 'Requests sent to the backend', 'counter', (p, i) => bst(p, i).requests);
  backendMetric('trellis_redis_backend_responses_total', 'Replies received from the backend', 'counter', (p, i) => bst(p, i).responses);
  backendMetric('trellis_redis_backend_errors_total', 'Connection errors and closes (twemproxy server_err + server_eof)', 'counter', (p, i) => bst(p, i).server_err + bst(p, i).server_eof);
  backendMetric('trellis_redis_backend_timeouts_total', 'Request timeouts (twemproxy server_timedout)', 'counter', (p, i) => bst(p, i).server_timedout);
  backendMetric('trellis_redis_backend_connections', 'Open connections to the backend', 'gauge', (p, i) => bst(p, i).server_connections);
  backendMetric('trellis_redis_backend_pending_requests', 'Requests waiting for a reply', 'gauge', (p, i) => bst(p, i).in_queue);
  backendMetric('trellis_redis_backend_healthy', '1 when the backend is in service (active checks, outlier detection, upstream auth)', 'gauge', (p, i) => (gst(p, i)?.healthy ?? true ? 1 : 0));
  backendMetric('trellis_redis_backend_ejections_total', 'Times the backend was taken out of service', 'counter', (p, i) => gst(p, i)?.ejections ?? 0);
  backendMetric('trellis_redis_backend_auth_failures_total', 'Upstream AUTH rejections', 'counter', (p, i) => gst(p, i)?.auth_failures ?? 0);
  backendMetric('trellis_redis_backend_pending_overflow_total', 'Requests refused at max_pending_requests (Envoy upstream_rq_pending_overflow)', 'counter', (p, i) => gst(p, i)?.pending_overflows ?? 0);

  add('trellis_redis_downstream_connections_total', 'Client connections accepted (Envoy downstream_cx_total)', 'counter', perPool((p, pool) => [{ labels: { pool }, value: p.stats().downstream_cx_total }]));
  add('trellis_redis_downstream_connections', 'Client connections open (Envoy downstream_cx_active)', 'gauge', perPool((p, pool) => [{ labels: { pool }, value: p.stats().downstream_cx_active }]));
  add('trellis_redis_downstream_requests_total', 'Requests received (Envoy downstream_rq_total)', 'counter', perPool((p, pool) => [{ labels: { pool }, value: p.stats().downstream_rq_total }]));
  add('trellis_redis_downstream_protocol_errors_total', 'Clients closed for malformed RESP (Envoy downstream_cx_protocol_error)', 'counter', perPool((p, pool) => [{ labels: { pool }, value: p.stats().downstream_cx_protocol_error }]));
  add('trellis_redis_downstream_bytes_received_total', 'Bytes received from clients', 'counter', perPool((p, pool) => (p.gov ? [{ labels: { pool }, value: p.gov.bytes().in }] : [])));
  add('trellis_redis_downstream_bytes_sent_total', 'Bytes sent to clients', 'counter', perPool((p, pool) => (p.gov ? [{ labels: { pool }, value: p.gov.bytes().out }] : [])));
  add('trellis_redis_rejected_total', 'Requests or connections refused by governance, by reason (noauth, wrongpass, noperm, rate_limited, max_connections, client_queue_overflow, fault, timeout)', 'counter',
    perPool((p, pool) => Object.entries(p.gov?.rejected ?? {}).map(([reason, value]) => ({ labels: { pool, reason }, value }))));
  add('trellis_redis_retries_total', 'Read-only commands retried after a connection failure or timeout', 'counter', perPool((p, pool) => (p.gov?.retry ? [{ labels: { pool }, value: p.gov.retry.total }] : [])));
  add('trellis_redis_retry_overflow_total', 'Retries refused by the retry budget (Envoy upstream_rq_retry_overflow)', 'counter', perPool((p, pool) => (p.gov?.retry ? [{ labels: { pool }, value: p.gov.retry.overflows }] : [])));
  add('trellis_redis_mirror_requests_total', 'Requests copied to the mirror pool', 'counter', perPool((p, pool) => (p.gov?.mirror ? [{ labels: { pool }, value: p.gov.mirror.sent }] : [])));
  add('trellis_redis_mirror_errors_total', 'Error replies from the mirror pool', 'counter', perPool((p, pool) => (p.gov?.mirror ? [{ labels: { pool }, value: p.gov.mirror.errors }] : [])));
  return reg;
}
