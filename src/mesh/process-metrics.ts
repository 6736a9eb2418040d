/**
 * The process' own Prometheus metrics (prom-client's defaults: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_open_fds, nodejs_heap_*, nodejs_gc_duration_seconds,
 * nodejs_eventloop_lag_*), what Go services such as the OpenFaaS gateway expose as process_* and
 * go_*. One set per process, however many registries a process scrapes (tests start many
 * gateways), appended to each scrape.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

let shared: Registry | null = null;

/** The registry holding them (a cluster worker hands it to prom-client's aggregator). */
export function processRegistry(): Registry {
  if (shared === null) {
    shared = new Registry();
    // Event-loop lag sampled every 100 ms rather than prom-client's 10 ms: an idle sidecar
    // should not wake 100 times a second to measure itself.
    collectDefaultMetrics({ register: shared, eventLoopMonitoringPrecision: 100 });
  }
  return shared;
}

/** Starts collecting now (GC and event-loop lag are observed from then on, not from the first scrape). */
export function startProcessMetrics(): void {
  processRegistry();
}

/** registry's exposition text followed by the process metrics. */
export async function scrapeWithProcessMetrics(registry: Registry): Promise<string> {
  const [own, proc] = await Promise.all([registry.metrics(), processRegistry().metrics()]);
  return own.endsWith('\n') || own === '' ? own + proc : `${own}\n${proc}`;
}
