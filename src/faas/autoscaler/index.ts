export { autoscalerConfig, KNATIVE_DEFAULTS, type AutoscalerConfig } from './config.js';
export { parseDurationMs } from './duration.js';
export { resolveScalingSpec, ScalingSpecError, DEFAULT_FUNCTION_TIMEOUT_MS, type ScalingSpec, type ScalingMetric } from './spec.js';
export { MetricCollector, type WindowAverages } from './collector.js';
export { KpaDecider, applyBounds, ScaleToZeroGate, type ScaleInput, type ScaleResult } from './kpa.js';
export { FunctionScaler, type Decision } from './function-scaler.js';
