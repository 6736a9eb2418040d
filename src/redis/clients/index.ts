/** Per-client state and the stateful commands hub (transactions, blocking, pub/sub, SCAN, SELECT, RESP3, CLIENT *). */
export { StatefulFeatures, type FeatureStats, type FeatureHandler } from './features.js';
export { ClientState, type WatchPin, type BlockedCall } from './client-state.js';
export { ClientRegistry, type ClientFilter } from './client-registry.js';
export { helloAnswer } from './hello.js';
export type { FeatureContext } from './context.js';
