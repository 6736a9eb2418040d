/**
 * Prometheus metrics of the async path, named like OpenFaaS Pro's queue-worker where it has
 * them (`queue_worker_messages_submitted_total`, `queue_worker_messages_processed_total`,
 * `queue_worker_function_invocation_inflight`) plus retries, dead letters and callback failures.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface QueueMetrics {
  submitted(fn: string): void;
  processed(fn: string, status: 'succeeded' | 'failed' | 'dead'): void;
  retried(fn: string): void;
  callbackFailed(fn: string): void;
  inflight(fn: string, delta: number): void;
}

export const NO_METRICS: QueueMetrics = { submitted() {}, processed() {}, retried() {}, callbackFailed() {}, inflight() {} };

export function createQueueMetrics(registry: Registry): QueueMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const submitted = get('queue_worker_messages_submitted_total', () => new Counter({
    name: 'queue_worker_messages_submitted_total', help: 'Async invocations accepted (202) and stored', labelNames: ['function_name'], registers: [registry],
  }));
  const processed = get('queue_worker_messages_processed_total', () => new Counter({
    name: 'queue_worker_messages_processed_total', help: 'Async invocations finished, by final status', labelNames: ['function_name', 'status'], registers: [registry],
  }));
  const retried = get('queue_worker_retries_total', () => new Counter({
    name: 'queue_worker_retries_total', help: 'Async attempts scheduled for a retry', labelNames: ['function_name'], registers: [registry],
  }));
  const cbFailed = get('queue_worker_callbacks_failed_total', () => new Counter({
    name: 'queue_worker_callbacks_failed_total', help: 'Callbacks that failed after all their attempts', labelNames: ['function_name'], registers: [registry],
  }));
  const inflight = get('queue_worker_function_invocation_inflight', () => new Gauge({
    name: 'queue_worker_function_invocation_inflight', help: 'Async invocations in flight in this worker', labelNames: ['function_name'], registers: [registry],
  }));
  return {
    submitted: (fn) => submitted.inc({ function_name: fn }),
    processed: (fn, status) => processed.inc({ function_name: fn, status }),
    retried: (fn) => retried.inc({ function_name: fn }),
    callbackFailed: (fn) => cbFailed.inc({ function_name: fn }),
    inflight: (fn, d) => inflight.inc({ function_name: fn }, d),
  };
}
