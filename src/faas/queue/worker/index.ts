export { QueueWorker, type QueueWorkerOptions, type WorkerStats } from './worker.js';
export * from './retry-policy.js';
export { deliverCallback, callbackHeaders, DEFAULT_CALLBACK_OPTIONS, type CallbackOptions, type CallbackResult } from './callback.js';
export { createHttpInvoker, forwardableHeaders } from './http-invoker.js';
export type { InvokeFn, InvokeRequest, InvokeResponse, FunctionMetaLookup } from './types.js';
