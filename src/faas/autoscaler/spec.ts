/**
 * A function's scaling spec, resolved from its deployment. Precedence, highest first:
 *   1. Knative annotations  `autoscaling.knative.dev/*`  (read from annotations, then labels)
 *   2. OpenFaaS labels      `com.openfaas.scale.*`      (read from labels, then annotations)
 *   3. Trellis fields       `concurrency`, `timeout` (and env `max_inflight` for concurrency)
 *   4. platform defaults    AutoscalerConfig (Knative's config-autoscaler defaults)
 * So `autoscaling.knative.dev/max-scale: 3` wins over `com.openfaas.scale.max: 10`.
 * OpenFaaS mapping: scale.min/max → min/max-scale; scale.target → target; scale.target-proportion
 * → utilization; scale.type capacity → metric concurrency, rps → rps; scale.zero=false disables
 * scale-to-zero (true enables it, and then, as in OpenFaaS, an idle function goes to zero even
 * when scale.min > 0); scale.zero-duration → scale-to-zero-pod-retention-period (how long the
 * last instance stays after traffic stops).
 * Unsupported values (metric cpu/memory, HPA class, weighted-exponential) are rejected.
 */
import type { FunctionDeployment } from '../types.js';
import type { AutoscalerConfig } from './config.js';
import { parseDurationMs } from './duration.js';

/** Knative's container-concurrency-max-limit (its default): the most one instance may be given. */
export const MAX_CONTAINER_CONCURRENCY = 1000;

export type ScalingMetric = 'concurrency' | 'rps';

export interface ScalingSpec {
  metric: ScalingMetric;
  /** Per-instance capacity the target is a share of (Knative's TotalValue). */
  total: number;
  /** Per-instance target = max(0.01, total × utilization) (Knative's TargetValue). */
  target: number;
  /** Hard in-flight limit per instance (breaker); 0 = unlimited. */
  containerConcurrency: number;
  stableWindowMs: number;
  panicWindowMs: number;
  /** Ratio, e.g. 2.0 for 200 %. */
  panicThreshold: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  minScale: number;
  /** 0 = unbounded. */
  maxScale: number;
  initialScale: number;
  scaleToZero: boolean;
  /**
   * OpenFaaS semantics: `com.openfaas.scale.zero: true` lets an idle function go to zero even
   * with `com.openfaas.scale.min` > 0 (min is the floor while it has traffic). Knative's
   * `min-scale` stays a hard floor.
   */
  idleBelowMin: boolean;
  scaleToZeroGracePeriodMs: number;
  scaleToZeroRetentionMs: number;
  targetBurstCapacity: number;
  scaleDownDelayMs: number;
  activationScale: number;
  /** How long a request may be held waiting for an instance (function timeout). */
  timeoutMs: number;
}

export class ScalingSpecError extends Error {
  constructor(readonly fn: string, readonly key: string, reason: string) {
    super(`function "${fn}": ${key}: ${reason}`);
    this.name = 'ScalingSpecError';
  }
}

const KN = 'autoscaling.knative.dev/';
const OF = 'com.openfaas.scale.';
export const DEFAULT_FUNCTION_TIMEOUT_MS = 60_000;

export function resolveScalingSpec(name: string, spec: FunctionDeployment, cfg: AutoscalerConfig): ScalingSpec {
  const labels = spec.labels ?? {};
  const annotations = spec.annotations ?? {};
  const kn = (k: string): [string, string] | undefined => {
    const v = annotations[KN + k] ?? labels[KN + k];
    return v === undefined ? undefined : [KN + k, v];
  };
  const of = (k: string): [string, string] | undefined => {
    const v = labels[OF + k] ?? annotations[OF + k];
    return v === undefined ? undefined : [OF + k, v];
  };
  const fail = (key: string, reason: string): never => { throw new ScalingSpecError(name, key, reason); };
  const num = (e: [string, string], min: number, max = Infinity, integer = false): number => {
    const v = Number(e[1].trim());
    if (e[1].trim() === '' || !Number.isFinite(v)) fail(e[0], `"${e[1]}" is not a number`);
    if (integer && !Number.isInteger(v)) fail(e[0], `"${e[1]}" is not an integer`);
    if (v < min || v > max) fail(e[0], `${v} is out of range [${min}, ${max === Infinity ? '∞' : max}]`);
    return v;
  };
  const dur = (e: [string, string]): number => {
    try { return parseDurationMs(e[1], e[0]); } catch (err) { return fail(e[0], (err as Error).message.replace(`${e[0]}: `, '')); }
  };
  const pick = <T>(...vals: (T | undefined)[]): T | undefined => vals.find((v) => v !== undefined);
  const opt = <T>(e: [string, string] | undefined, f: (e: [string, string]) => T): T | undefined => (e ? f(e) : undefined);

  const cls = kn('class');
  if (cls && cls[1] !== 'kpa.autoscaling.knative.dev') fail(cls[0], `"${cls[1]}" is not supported; Trellis implements kpa.autoscaling.knative.dev`);
  const agg = kn('metric-aggregation-algorithm');
  if (agg && agg[1] !== 'linear') fail(agg[0], `"${agg[1]}" is not supported; use linear`);

  // Metric
  const knMetric = kn('metric');
  const ofType = of('type');
  let metric: ScalingMetric = 'concurrency';
  if (knMetric) {
    if (knMetric[1] === 'concurrency' || knMetric[1] === 'rps') metric = knMetric[1];
    else fail(knMetric[0], `"${knMetric[1]}" is not supported; use concurrency or rps (cpu/memory need the HPA class)`);
  } else if (ofType) {
    if (ofType[1] === 'capacity') metric = 'concurrency';
    else if (ofType[1] === 'rps') metric = 'rps';
    else fail(ofType[0], `"${ofType[1]}" is not supported; use capacity or rps (cpu scaling needs a metrics source Trellis does not have)`);
  }

  // Hard concurrency limit (breaker).
  let cc = spec.concurrency;
  if (cc === undefined && spec.envVars?.max_inflight !== undefined) cc = num(['envVars.max_inflight', spec.envVars.max_inflight], 0, MAX_CONTAINER_CONCURRENCY, true);
  cc ??= 0;
  if (!Number.isInteger(cc) || cc < 0 || cc > MAX_CONTAINER_CONCURRENCY) fail('concurrency', `${cc} must be an integer in [0, ${MAX_CONTAINER_CONCURRENCY}]`);

  // Target
  let total = metric === 'rps' ? cfg.rpsTargetDefault : (cc > 0 ? cc : cfg.concurrencyTargetDefault);
  const explicitTarget = pick(opt(kn('target'), (e) => num(e, 0.01)), opt(of('target'), (e) => num(e, 0.01)));
  if (explicitTarget !== undefined) total = metric === 'concurrency' && cc > 0 ? Math.min(explicitTarget, cc) : explicitTarget;
  const utilization = pick(
    opt(kn('target-utilization-percentage'), (e) => num(e, 1, 100) / 100),
    opt(of('target-proportion'), (e) => num(e, 0.01, 1)),
  ) ?? cfg.targetUtilization;
  const target = Math.max(0.01, total * utilization);

  // Windows
  const stableWindowMs = opt(kn('window'), (e) => {
    const ms = dur(e);
    if (ms < 6000 || ms > 3_600_000) fail(e[0], `${e[1]} is out of range [6s, 1h]`);
    if (ms % 1000 !== 0) fail(e[0], `${e[1]} must be whole seconds`);
    return ms;
  }) ?? cfg.stableWindowMs;
  const panicPct = opt(kn('panic-window-percentage'), (e) => num(e, 1, 100)) ?? cfg.panicWindowPercentage;
  const panicWindowMs = Math.max(1000, Math.round((stableWindowMs * panicPct) / 100 / 1000) * 1000);
  const panicThreshold = (opt(kn('panic-threshold-percentage'), (e) => num(e, 110, 1000)) ?? cfg.panicThresholdPercentage) / 100;

  // Bounds
  const minScale = pick(opt(kn('min-scale'), (e) => num(e, 0, Infinity, true)), opt(of('min'), (e) => num(e, 0, Infinity, true))) ?? cfg.minScale;
  const maxScale = pick(opt(kn('max-scale'), (e) => num(e, 0, Infinity, true)), opt(of('max'), (e) => num(e, 0, Infinity, true))) ?? cfg.maxScale;
  if (maxScale > 0 && minScale > maxScale) fail(kn('min-scale')?.[0] ?? of('min')?.[0] ?? 'min-scale', `min-scale ${minScale} is greater than max-scale ${maxScale}`);
  let initialScale = opt(kn('initial-scale'), (e) => {
    const v = num(e, 0, Infinity, true);
    if (v === 0 && !cfg.allowZeroInitialScale) fail(e[0], '0 is not allowed unless allowZeroInitialScale is set');
    return v;
  }) ?? cfg.initialScale;
  if (maxScale > 0) initialScale = Math.min(initialScale, maxScale);

  // Scale to zero
  let scaleToZero = cfg.enableScaleToZero;
  const ofZero = of('zero');
  if (ofZero) {
    if (ofZero[1] !== 'true' && ofZero[1] !== 'false') fail(ofZero[0], `"${ofZero[1]}" must be true or false`);
    scaleToZero = ofZero[1] === 'true';
  }
  const idleBelowMin = scaleToZero && ofZero?.[1] === 'true' && kn('min-scale') === undefined;
  const scaleToZeroRetentionMs = pick(opt(kn('scale-to-zero-pod-retention-period'), dur), opt(of('zero-duration'), dur))
    ?? cfg.scaleToZeroPodRetentionPeriodMs;

  const targetBurstCapacity = opt(kn('target-burst-capacity'), (e) => {
    const v = num(e, -1);
    if (v < 0 && v !== -1) fail(e[0], `${v} must be >= 0 or -1`);
    return v;
  }) ?? cfg.targetBurstCapacity;
  const scaleDownDelayMs = opt(kn('scale-down-delay'), (e) => {
    const ms = dur(e);
    if (ms > 3_600_000) fail(e[0], `${e[1]} is more than 1h`);
    return ms;
  }) ?? cfg.scaleDownDelayMs;
  const activationScale = opt(kn('activation-scale'), (e) => num(e, 1, Infinity, true)) ?? cfg.activationScale;

  let timeoutMs = DEFAULT_FUNCTION_TIMEOUT_MS;
  if (spec.timeout !== undefined) {
    try { timeoutMs = parseDurationMs(spec.timeout, 'timeout'); } catch (err) { fail('timeout', (err as Error).message.replace('timeout: ', '')); }
    if (timeoutMs <= 0) timeoutMs = DEFAULT_FUNCTION_TIMEOUT_MS;
  }

  return {
    metric, total, target, containerConcurrency: cc,
    stableWindowMs, panicWindowMs, panicThreshold,
    maxScaleUpRate: cfg.maxScaleUpRate, maxScaleDownRate: cfg.maxScaleDownRate,
    minScale, maxScale, initialScale,
    scaleToZero, idleBelowMin, scaleToZeroGracePeriodMs: cfg.scaleToZeroGracePeriodMs, scaleToZeroRetentionMs,
    targetBurstCapacity, scaleDownDelayMs, activationScale, timeoutMs,
  };
}
