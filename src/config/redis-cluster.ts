/**
 * Settings of a `distribution: cluster` pool (Redis Cluster behind the proxy). The pool's
 * backends are seed nodes; the topology is discovered. Names follow Envoy's RedisClusterConfig
 * (cluster_refresh_rate, cluster_refresh_timeout) and ConnPoolSettings.read_policy.
 *
 *   distribution: cluster
 *   backends: [127.0.0.1:7000, 127.0.0.1:7001]   # seeds
 *   cluster:
 *     refresh_interval: 5000       # ms, periodic topology refresh (Envoy cluster_refresh_rate 5 s)
 *     refresh_timeout: 3000        # ms, one CLUSTER SHARDS query (Envoy cluster_refresh_timeout 3 s)
 *     read_policy: master          # master | preferMaster | replica | preferReplica | any
 *     max_redirects: 5             # MOVED/ASK hops per request before giving up
 *     failover_wait: 0             # ms a request that could not be sent may wait for a failover
 *                                  # (0: one retry after one topology refresh, then the error)
 */
import { z } from 'zod';

export const READ_POLICIES = ['master', 'preferMaster', 'replica', 'preferReplica', 'any'] as const;
export type ReadPolicy = (typeof READ_POLICIES)[number];

export interface ClusterSettings {
  refreshIntervalMs: number;
  refreshTimeoutMs: number;
  readPolicy: ReadPolicy;
  maxRedirects: number;
  failoverWaitMs: number;
}

/** Envoy spells them MASTER, PREFER_MASTER, ...; both spellings are accepted. */
const ENVOY_NAMES: Record<string, ReadPolicy> = {
  MASTER: 'master', PREFER_MASTER: 'preferMaster', REPLICA: 'replica', PREFER_REPLICA: 'preferReplica', ANY: 'any',
  prefer_master: 'preferMaster', prefer_replica: 'preferReplica',
};

const readPolicy = z.string().transform((s, ctx): ReadPolicy => {
  if ((READ_POLICIES as readonly string[]).includes(s)) return s as ReadPolicy;
  const mapped = ENVOY_NAMES[s];
  if (mapped) return mapped;
  ctx.addIssue({ code: 'custom', message: `expected one of ${READ_POLICIES.join(', ')} (or Envoy's MASTER, PREFER_MASTER, REPLICA, PREFER_REPLICA, ANY), got "${s}"` });
  return z.NEVER;
});

export const clusterObject = z.strictObject({
  refresh_interval: z.number().int().min(100).default(5000),
  refresh_timeout: z.number().int().min(10).default(3000),
  read_policy: readPolicy.default('master'),
  max_redirects: z.number().int().min(1).max(100).default(5),
  failover_wait: z.number().int().min(0).max(120_000).default(0),
});

export const clusterShape = { cluster: clusterObject.optional() };

export type ClusterInput = z.input<typeof clusterObject>;

export function clusterSettings(c: z.output<typeof clusterObject> | undefined): ClusterSettings {
  const v = c ?? clusterObject.parse({});
  return { refreshIntervalMs: v.refresh_interval, refreshTimeoutMs: v.refresh_timeout, readPolicy: v.read_policy, maxRedirects: v.max_redirects, failoverWaitMs: v.failover_wait };
}

/** camelCase options (programmatic API) → the YAML shape. */
export interface ClusterOptions {
  refreshIntervalMs?: number;
  refreshTimeoutMs?: number;
  readPolicy?: ReadPolicy | string;
  maxRedirects?: number;
  failoverWaitMs?: number;
}

export function clusterOptionsToInput(o: ClusterOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {
    refresh_interval: o.refreshIntervalMs, refresh_timeout: o.refreshTimeoutMs, read_policy: o.readPolicy, max_redirects: o.maxRedirects,
    failover_wait: o.failoverWaitMs,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}
