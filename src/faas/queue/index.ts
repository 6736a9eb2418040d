export * from './types.js';
export { SqliteQueue, type SqliteQueueOptions } from './sqlite-queue.js';
export { NatsQueue, type NatsQueueOptions } from './nats-queue.js';
