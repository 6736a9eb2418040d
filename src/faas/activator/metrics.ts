/** The activator's Prometheus metrics (registered on the caller's registry). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ActivatorMetrics {
  desired: Gauge<'function_name'>;
  ready: Gauge<'function_name'>;
  panic: Gauge<'function_name'>;
  held: Gauge<'function_name'>;
  coldStarts: Counter<'function_name' | 'source'>;
  coldStartSeconds: Histogram<'function_name' | 'source'>;
}

export function createActivatorMetrics(registry: Registry): ActivatorMetrics {
  const registers = [registry];
  return {
    desired: new Gauge({ name: 'trellis_function_desired_instances', help: 'Instances the autoscaler wants', labelNames: ['function_name'], registers }),
    ready: new Gauge({ name: 'trellis_function_ready_instances', help: 'Ready instances taking work', labelNames: ['function_name'], registers }),
    panic: new Gauge({ name: 'trellis_function_panic_mode', help: '1 while the autoscaler is in panic mode', labelNames: ['function_name'], registers }),
    held: new Gauge({ name: 'trellis_function_held_requests', help: 'Requests held by the activator waiting for an instance', labelNames: ['function_name'], registers }),
    coldStarts: new Counter({ name: 'trellis_function_cold_starts_total', help: 'Instances started because requests were waiting (source: pool or fresh)', labelNames: ['function_name', 'source'], registers }),
    coldStartSeconds: new Histogram({
      name: 'trellis_function_cold_start_seconds',
      help: 'Time from asking for an instance to it being ready, for starts requests waited on',
      labelNames: ['function_name', 'source'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
}
