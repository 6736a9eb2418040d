export { ActivationError, type Activator, type InstanceLease } from './types.js';
export { createActivator, type ActivatorOptions, type ActivatorHandle, type FunctionActivity } from './activator.js';
export { HoldQueue } from './hold-queue.js';
export { powerOfTwoChoices, firstAvailable, roundRobin, policyFor, type Backend, type LbPolicy } from './lb-policy.js';
export { createActivatorMetrics, type ActivatorMetrics } from './metrics.js';
