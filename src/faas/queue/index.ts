export * from './types.js';
export { SqliteQueue, type SqliteQueueOptions } from './sqlite-queue.js';
export { NatsQueue, type NatsQueueOptions } from './nats-queue.js';
export * from './worker/index.js';
export { createAsyncApi, stateJson, DEFAULT_MAX_ASYNC_BODY, type AsyncApiOptions, type AsyncRouteHandler } from './api.js';
export { attachAsync, openQueue, asyncConfigFromEnv, type AsyncConfig, type AsyncHost, type AsyncService } from './attach.js';
export { AsyncClient, AsyncClientError, resultBody, type AsyncCallView, type AsyncSubmitOptions, type AsyncAuth } from './client.js';
export { createQueueMetrics, NO_METRICS, type QueueMetrics } from './metrics.js';
