/** Pub/Sub across proxies: channels placed like keys, patterns on every backend, shared subscriber connections. */
export { PubSubHub, type SubKind } from './pubsub-hub.js';
export { PubSubCommands } from './pubsub-commands.js';
export { subscriptionFrame, subscribedPong, bulkPayload } from './frames.js';
