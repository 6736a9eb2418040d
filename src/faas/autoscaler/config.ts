/**
 * Platform-wide autoscaler settings: Knative's `config-autoscaler` keys and defaults
 * (config/core/configmaps/autoscaler.yaml), in milliseconds / ratios. Per-function
 * annotations and labels override them (see spec.ts).
 */
export interface AutoscalerConfig {
  /** container-concurrency-target-percentage / 100. */
  targetUtilization: number;
  /** container-concurrency-target-default: soft per-instance target when concurrency = 0. */
  concurrencyTargetDefault: number;
  /** requests-per-second-target-default. */
  rpsTargetDefault: number;
  /** target-burst-capacity; 0 = activator only at zero, -1 = always in path. */
  targetBurstCapacity: number;
  stableWindowMs: number;
  /** panic-window-percentage (1..100). */
  panicWindowPercentage: number;
  /** panic-threshold-percentage (200 = panic when the panic window wants 2× the ready instances). */
  panicThresholdPercentage: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  enableScaleToZero: boolean;
  scaleToZeroGracePeriodMs: number;
  scaleToZeroPodRetentionPeriodMs: number;
  initialScale: number;
  allowZeroInitialScale: boolean;
  minScale: number;
  /** 0 = unbounded. */
  maxScale: number;
  scaleDownDelayMs: number;
  activationScale: number;
  /** The reconciler's tick (Knative's multiscaler tickInterval). */
  tickIntervalMs: number;
}

export const KNATIVE_DEFAULTS: Readonly<AutoscalerConfig> = Object.freeze({
  targetUtilization: 0.7,
  concurrencyTargetDefault: 100,
  rpsTargetDefault: 200,
  targetBurstCapacity: 211,
  stableWindowMs: 60_000,
  panicWindowPercentage: 10,
  panicThresholdPercentage: 200,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  enableScaleToZero: true,
  scaleToZeroGracePeriodMs: 30_000,
  scaleToZeroPodRetentionPeriodMs: 0,
  initialScale: 1,
  allowZeroInitialScale: false,
  minScale: 0,
  maxScale: 0,
  scaleDownDelayMs: 0,
  activationScale: 1,
  tickIntervalMs: 2_000,
});

/** Defaults merged with `overrides`, validated; throws one clear error naming the key. */
export function autoscalerConfig(overrides: Partial<AutoscalerConfig> = {}): AutoscalerConfig {
  const c: AutoscalerConfig = { ...KNATIVE_DEFAULTS, ...overrides };
  const fail = (key: keyof AutoscalerConfig, rule: string): never => {
    throw new Error(`autoscaler config: ${key} = ${String(c[key])} is invalid: ${rule}`);
  };
  if (!(c.targetUtilization > 0 && c.targetUtilization <= 1)) fail('targetUtilization', 'must be in (0, 1]');
  if (!(c.concurrencyTargetDefault >= 0.01)) fail('concurrencyTargetDefault', 'must be >= 0.01');
  if (!(c.rpsTargetDefault >= 0.01)) fail('rpsTargetDefault', 'must be >= 0.01');
  if (!(c.targetBurstCapacity >= 0 || c.targetBurstCapacity === -1)) fail('targetBurstCapacity', 'must be >= 0 or -1');
  if (!(c.stableWindowMs >= 1000)) fail('stableWindowMs', 'must be at least 1000 ms');
  if (!(c.panicWindowPercentage >= 1 && c.panicWindowPercentage <= 100)) fail('panicWindowPercentage', 'must be in [1, 100]');
  if (!(c.panicThresholdPercentage >= 110 && c.panicThresholdPercentage <= 1000)) fail('panicThresholdPercentage', 'must be in [110, 1000]');
  if (!(c.maxScaleUpRate > 1)) fail('maxScaleUpRate', 'must be > 1');
  if (!(c.maxScaleDownRate > 1)) fail('maxScaleDownRate', 'must be > 1');
  if (!(c.scaleToZeroGracePeriodMs >= 0)) fail('scaleToZeroGracePeriodMs', 'must be >= 0');
  if (!(c.scaleToZeroPodRetentionPeriodMs >= 0)) fail('scaleToZeroPodRetentionPeriodMs', 'must be >= 0');
  for (const k of ['initialScale', 'minScale', 'maxScale', 'activationScale'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) fail(k, 'must be a non-negative integer');
  }
  if (c.activationScale < 1) fail('activationScale', 'must be >= 1');
  if (c.initialScale === 0 && !c.allowZeroInitialScale) fail('initialScale', '0 needs allowZeroInitialScale');
  if (c.maxScale > 0 && c.minScale > c.maxScale) fail('minScale', `must be <= maxScale (${c.maxScale})`);
  if (!(c.scaleDownDelayMs >= 0)) fail('scaleDownDelayMs', 'must be >= 0');
  if (!(c.tickIntervalMs >= 10)) fail('tickIntervalMs', 'must be >= 10 ms');
  return c;
}
