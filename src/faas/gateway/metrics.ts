/**
 * The gateway's Prometheus metrics, named as OpenFaaS' gateway names them, in a registry of
 * their own. Hot-path updates go through pre-resolved label children (no label hashing per
 * request).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  /** Per-function handle used by the invocation paths. */
  forFunction(name: string): FunctionMetrics;
  forget(name: string): void;
}

interface CodeChildren { total: Counter.Internal; seconds: Histogram.Internal<string> }

export class FunctionMetrics {
  invocations = 0;
  readonly codes = new Map<number, CodeChildren>();
  private readonly startedChild: Counter.Internal;

  constructor(readonly name: string, private readonly m: { started: Counter; total: Counter; seconds: Histogram }) {
    this.startedChild = m.started.labels(name);
  }

  started(): void { this.startedChild.inc(); }

  finished(code: number, seconds: number): void {
    this.invocations++;
    let c = this.codes.get(code);
    if (!c) {
      const codeLabel = String(code);
      c = { total: this.m.total.labels(this.name, codeLabel), seconds: this.m.seconds.labels(this.name, codeLabel) };
      this.codes.set(code, c);
    }
    c.total.inc();
    c.seconds.observe(seconds);
  }
}

export function createGatewayMetrics(replicasOf: (name: string) => number, functionNames: () => string[]): GatewayMetrics {
  const registry = new Registry();
  const started = new Counter({
    name: 'gateway_function_invocation_started', help: 'Function invocations started',
    labelNames: ['function_name'], registers: [registry],
  });
  const total = new Counter({
    name: 'gateway_function_invocation_total', help: 'Function invocations finished, by status code',
    labelNames: ['function_name', 'code'], registers: [registry],
  });
  const seconds = new Histogram({
    name: 'gateway_functions_seconds', help: 'Function invocation time taken',
    labelNames: ['function_name', 'code'], registers: [registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  new Gauge({
    name: 'gateway_service_count', help: 'Service replicas', labelNames: ['function_name'], registers: [registry],
    collect() {
      this.reset();
      for (const name of functionNames()) this.set({ function_name: name }, replicasOf(name));
    },
  });
  const byName = new Map<string, FunctionMetrics>();
  return {
    registry,
    forFunction(name) {
      let f = byName.get(name);
      if (!f) { f = new FunctionMetrics(name, { started, total, seconds }); byName.set(name, f); }
      return f;
    },
    forget(name) {
      const f = byName.get(name);
      byName.delete(name);
      started.remove(name);
      for (const code of f?.codes.keys() ?? []) {
        total.remove(name, String(code));
        seconds.remove(name, String(code));
      }
    },
  };
}
