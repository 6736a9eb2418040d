/**
 * What the admin server reports, and where it comes from: the proxies of this process, or,
 * with `--workers N`, the worker processes, asked over the cluster IPC channel by the primary
 * (which serves the admin port alone). Prometheus metrics of the workers are merged by
 * prom-client's AggregatorRegistry (counters and histograms summed, as each metric declares).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { RedisProxy } from '../proxy.js';
import { createProxyRegistry } from '../stats/prometheus.js';
import { processRegistry, scrapeWithProcessMetrics, startProcessMetrics } from '../../mesh/index.js';

export interface Readiness { ready: boolean; pools: Record<string, string> }

export interface AdminSource {
  readonly contentType: string;
  metrics(): Promise<string>;
  stats(): Promise<unknown>;
  ready(): Promise<Readiness>;
}

export function readiness(proxies: readonly RedisProxy[]): Readiness {
  const pools: Record<string, string> = {};
  let ready = proxies.length > 0;
  for (const p of proxies) {
    const st = p.stats();
    const healthy = st.backends.filter((b, i) => b.connected && (st.governance?.backends[i].healthy ?? true)).length;
    pools[p.config.name] = `${healthy}/${st.backends.length} backends healthy and connected`;
    if (healthy === 0) ready = false;
  }
  return { ready, pools };
}

/** This process' proxies. */
export function localAdminSource(proxies: () => readonly RedisProxy[]): AdminSource {
  const registry = createProxyRegistry(proxies);
  startProcessMetrics();
  return {
    contentType: registry.contentType,
    metrics: () => scrapeWithProcessMetrics(registry),
    stats: async () => ({ pools: proxies().map((p) => p.stats()) }),
    ready: async () => readiness(proxies()),
  };
}

const ASK = 'trellis:admin-ask';
const ANSWER = 'trellis:admin-answer';
type Question = 'stats' | 'ready';
interface AskMessage { type: typeof ASK; id: number; question: Question }
interface AnswerMessage { type: typeof ANSWER; id: number; answer: unknown }

/**
 * In a worker: answer the primary's questions about this worker's proxies, and let
 * prom-client's aggregator collect this worker's metrics.
 */
export function serveAdminToPrimary(proxies: () => readonly RedisProxy[]): () => void {
  const registry: Registry = createProxyRegistry(proxies);
  startProcessMetrics();
  AggregatorRegistry.setRegistries([registry, processRegistry()]);
  new AggregatorRegistry(); // its constructor installs the worker's metrics responder
  const onMessage = (m: AskMessage) => {
    if (m?.type !== ASK) return;
    const answer = m.question === 'stats'
      ? { pid: process.pid, pools: proxies().map((p) => p.stats()) }
      : { pid: process.pid, ...readiness(proxies()) };
    process.send?.({ type: ANSWER, id: m.id, answer } satisfies AnswerMessage);
  };
  process.on('message', onMessage);
  return () => { process.off('message', onMessage); };
}

/** In the primary: every worker's answer, asked over IPC (workers that do not answer in time are left out). */
export function workersAdminSource(timeoutMs = 2000): AdminSource {
  const aggregator = new AggregatorRegistry();
  let nextId = 0;
  const ask = (question: Question): Promise<unknown[]> => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const id = nextId++;
    return new Promise((resolve) => {
      const answers: unknown[] = [];
      const finish = () => { clearTimeout(timer); cluster.off('message', onMessage); resolve(answers); };
      const onMessage = (_w: Worker, m: AnswerMessage) => {
        if (m?.type !== ANSWER || m.id !== id) return;
        answers.push(m.answer);
        if (answers.length === workers.length) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      cluster.on('message', onMessage);
      for (const w of workers) w.send({ type: ASK, id, question } satisfies AskMessage);
      if (workers.length === 0) finish();
    });
  };
  return {
    contentType: aggregator.contentType,
    metrics: () => aggregator.clusterMetrics(),
    stats: async () => ({ workers: await ask('stats') }),
    async ready() {
      const answers = await ask('ready') as Array<Readiness & { pid: number }>;
      const expected = Object.keys(cluster.workers ?? {}).length;
      const pools: Record<string, string> = {};
      for (const a of answers) for (const [name, text] of Object.entries(a.pools)) pools[`${name} (worker ${a.pid})`] = text;
      // Every worker takes connections, so every worker must be ready.
      return { ready: answers.length === expected && expected > 0 && answers.every((a) => a.ready), pools };
    },
  };
}
