/** Dedicated upstream connections: one owner each (transactions, blocking calls, SELECT n, subscribers). */
export { DedicatedConnection, type DedicatedTarget } from './dedicated-connection.js';
export { DedicatedPool, DEFAULT_MAX_DEDICATED, type DedicatedPoolStats } from './dedicated-pool.js';
export { DbConnections } from './db-connections.js';
