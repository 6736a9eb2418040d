export { TokenBucket, KeyedRateLimiter, type TokenBucketOptions, type KeyedRateLimiterOptions } from './token-bucket.js';
export {
  ResourceLimits, ConsecutiveFailureBreaker, RESOURCES, THRESHOLD_DEFAULTS, OVERFLOW_STAT,
  type Resource, type Thresholds, type BreakerState, type BreakerTransition, type ConsecutiveFailureBreakerOptions,
} from './circuit-breaker.js';
export {
  RetryBudget, backoffMs, parseRetryAfter, retryDelayMs, RETRY_BUDGET_DEFAULTS, BACKOFF_DEFAULTS,
  type RetryBudgetOptions, type RetryDelayInput,
} from './retry-budget.js';
export {
  OutlierDetector, OUTLIER_DEFAULTS,
  type OutlierDetectionOptions, type OutlierEvent, type FailureKind, type EjectionReason,
} from './outlier-detection.js';
export { processRegistry, scrapeWithProcessMetrics, startProcessMetrics } from './process-metrics.js';
