export { WarmPool, DEFAULT_POOL_SIZE, type WarmPoolOptions, type InstancePool } from './warm-pool.js';
export { bundleHasNativeModules } from './native.js';
