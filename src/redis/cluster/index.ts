/**
 * Redis Cluster behind the proxy (`distribution: cluster`): topology discovery and refresh,
 * slot routing with MOVED/ASK handled by the proxy, replica reads per read_policy, failover.
 */
export { ClusterRouter } from './cluster-router.js';
export { ClusterSplitter, CROSSSLOT } from './cluster-splitter.js';
export { ClusterNode } from './cluster-node.js';
export { parseClusterShards, parseClusterSlots, coveredSlots, type ShardTopology, type NodeAddress } from './topology.js';
export { fetchTopology } from './topology-fetch.js';
export { classifyError, parseRedirect, type Redirect } from './redirect.js';

import type { RedisPoolConfig } from '../../config/index.js';

/**
 * The pool a cluster-mode proxy gives its (never started) plain Router: the seeds under a
 * placement-free distribution, so code written against the Router keeps type-checking while
 * all traffic goes through the ClusterRouter.
 */
export function seedRouterPool(config: RedisPoolConfig): RedisPoolConfig {
  return { ...config, distribution: 'random', autoEjectHosts: false };
}
