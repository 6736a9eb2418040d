/**
 * The gateway's Prometheus metrics, named as OpenFaaS' gateway names them, in a registry of
 * their own. The invocation paths only bump plain numbers (prom-client's labelled updates
 * cost ~2 µs per request); the series are produced when /metrics is scraped.
 */
import { Gauge, Registry } from 'prom-client';
import { startProcessMetrics } from '../../mesh/index.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface CodeStats { code: string; count: number; sum: number; buckets: Float64Array }

export class FunctionMetrics {
  invocations = 0;
  startedCount = 0;
  readonly codes = new Map<number, CodeStats>();
  private lastCode = -1;
  private last: CodeStats | null = null;

  constructor(readonly name: string) {}

  started(): void { this.startedCount++; }

  finished(code: number, seconds: number): void {
    this.invocations++;
    let c = this.last;
    if (code !== this.lastCode || c === null) {
      c = this.codes.get(code) ?? null;
      if (c === null) {
        c = { code: String(code), count: 0, sum: 0, buckets: new Float64Array(BUCKETS.length) };
        this.codes.set(code, c);
      }
      this.lastCode = code;
      this.last = c;
    }
    c.count++;
    c.sum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) {
      if (seconds <= BUCKETS[i]) { c.buckets[i]++; break; }
    }
  }
}

export interface GatewayMetrics {
  registry: Registry;
  forFunction(name: string): FunctionMetrics;
  forget(name: string): void;
}

interface Sample { labels: Record<string, string | number>; value: number; metricName?: string }

/** A metric whose samples are computed at scrape time (prom-client's registry calls get()). */
function scraped(registry: Registry, name: string, help: string, type: 'counter' | 'histogram', samples: () => Sample[]): void {
  const metric = {
    name, help, type, aggregator: 'sum' as const,
    get: async () => ({ name, help, type, aggregator: 'sum' as const, values: samples() }),
    reset: () => {},
  };
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}

export function createGatewayMetrics(replicasOf: (name: string) => number, functionNames: () => string[]): GatewayMetrics {
  const registry = new Registry();
  startProcessMetrics();
  const byName = new Map<string, FunctionMetrics>();

  scraped(registry, 'gateway_function_invocation_started', 'Function invocations started', 'counter', () =>
    [...byName.values()].map((f) => ({ labels: { function_name: f.name }, value: f.startedCount })));
  scraped(registry, 'gateway_function_invocation_total', 'Function invocations finished, by status code', 'counter', () => {
    const out: Sample[] = [];
    for (const f of byName.values()) for (const c of f.codes.values()) out.push({ labels: { function_name: f.name, code: c.code }, value: c.count });
    return out;
  });
  scraped(registry, 'gateway_functions_seconds', 'Function invocation time taken', 'histogram', () => {
    const out: Sample[] = [];
    for (const f of byName.values()) {
      for (const c of f.codes.values()) {
        let acc = 0;
        for (let i = 0; i < BUCKETS.length; i++) {
          acc += c.buckets[i];
          out.push({ metricName: 'gateway_functions_seconds_bucket', labels: { le: BUCKETS[i], function_name: f.name, code: c.code }, value: acc });
        }
        out.push({ metricName: 'gateway_functions_seconds_bucket', labels: { le: '+Inf', function_name: f.name, code: c.code }, value: c.count });
        out.push({ metricName: 'gateway_functions_seconds_sum', labels: { function_name: f.name, code: c.code }, value: c.sum });
        out.push({ metricName: 'gateway_functions_seconds_count', labels: { function_name: f.name, code: c.code }, value: c.count });
      }
    }
    return out;
  });
  new Gauge({
    name: 'gateway_service_count', help: 'Service replicas', labelNames: ['function_name'], registers: [registry],
    collect() {
      this.reset();
      for (const name of functionNames()) this.set({ function_name: name }, replicasOf(name));
    },
  });
  return {
    registry,
    forFunction(name) {
      let f = byName.get(name);
      if (!f) { f = new FunctionMetrics(name); byName.set(name, f); }
      return f;
    },
    forget(name) { byName.delete(name); },
  };
}
