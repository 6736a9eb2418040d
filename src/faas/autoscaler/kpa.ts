/**
 * Knative's KPA decider (pkg/autoscaler/scaling/autoscaler.go `Scale`), pure: observed
 * stable/panic averages + ready instances + `now` in, desired scale out. Keeps only the panic
 * state (panic start, max panic pods) and the scale-down-delay window between calls.
 */
import type { ScalingSpec } from './spec.js';

export interface ScaleInput {
  now: number;
  /** Ready instances right now (may be 0). */
  readyInstances: number;
  /** Metric averaged over the stable window (concurrency or rps, per the spec's metric). */
  stable: number;
  /** Metric averaged over the panic window. */
  panic: number;
  /** false when the function cannot be reached (no scale-down rate floor then), as Knative. */
  reachable?: boolean;
}

export interface ScaleResult {
  desired: number;
  panicking: boolean;
  /** floor(ready × total − TBC − panic); 0 when TBC = 0, −1 when TBC = −1. Negative ⇒ keep the activator in path. */
  excessBurstCapacity: number;
  desiredStable: number;
  desiredPanic: number;
}

export class KpaDecider {
  private panicStart: number | undefined;
  private maxPanicPods = 0;
  private delayed: { at: number; value: number }[] = [];

  constructor(private spec: ScalingSpec) {}

  updateSpec(spec: ScalingSpec): void { this.spec = spec; }

  get panicking(): boolean { return this.panicStart !== undefined; }

  scale(input: ScaleInput): ScaleResult {
    const s = this.spec;
    const { now } = input;
    const readyPods = Math.max(1, input.readyInstances);

    const maxScaleUp = Math.ceil(s.maxScaleUpRate * readyPods);
    const maxScaleDown = input.reachable === false ? 0 : Math.floor(readyPods / s.maxScaleDownRate);

    const dspc = Math.ceil(input.stable / s.target);
    const dppc = Math.ceil(input.panic / s.target);
    const clamp = (v: number) => Math.min(Math.max(v, maxScaleDown), maxScaleUp);
    let desiredStable = clamp(dspc);
    let desiredPanic = clamp(dppc);
    if (s.activationScale > 1) {
      if (dspc > 0 && desiredStable < s.activationScale) desiredStable = s.activationScale;
      if (dppc > 0 && desiredPanic < s.activationScale) desiredPanic = s.activationScale;
    }

    const overThreshold = dppc / readyPods >= s.panicThreshold;
    if (overThreshold) {
      this.panicStart = now; // entering, or still over: the panic timer restarts
    } else if (this.panicStart !== undefined && now >= this.panicStart + s.stableWindowMs) {
      // A whole stable window without crossing the threshold: the surge is in the stable metric.
      this.panicStart = undefined;
      this.maxPanicPods = 0;
    }

    let desired = desiredStable;
    if (this.panicStart !== undefined) {
      desired = Math.max(desired, desiredPanic);
      // Never scale down while panicking.
      this.maxPanicPods = Math.max(this.maxPanicPods, desired);
      desired = this.maxPanicPods;
    }

    if (s.scaleDownDelayMs > 0) {
      this.delayed = this.delayed.filter((d) => d.at > now - s.scaleDownDelayMs);
      this.delayed.push({ at: now, value: desired });
      desired = Math.max(...this.delayed.map((d) => d.value));
    }

    let excessBurstCapacity = -1;
    if (s.targetBurstCapacity === 0) excessBurstCapacity = 0;
    else if (s.targetBurstCapacity > 0) {
      excessBurstCapacity = Math.floor(input.readyInstances * s.total - s.targetBurstCapacity - input.panic);
    }

    return { desired, panicking: this.panicStart !== undefined, excessBurstCapacity, desiredStable, desiredPanic };
  }
}

/** Knative's applyBounds: min, then max (0 = unbounded). */
export function applyBounds(desired: number, minScale: number, maxScale: number): number {
  if (desired < minScale) return minScale;
  if (maxScale > 0 && desired > maxScale) return maxScale;
  return desired;
}

/**
 * Scale-to-zero gating (kpa/scaler.go handleScaleToZero): a desired 0 is honoured only after
 * it has held for max(grace period, last-instance retention); until then 1 instance stays.
 * With scale-to-zero disabled, 0 becomes 1. Nothing is started to be kept: at zero, 0 stays 0.
 */
export class ScaleToZeroGate {
  private zeroSince: number | undefined;

  /** @param current instances running now: a function already at zero is not brought back to 1. */
  apply(desired: number, now: number, spec: ScalingSpec, current = 1): number {
    if (desired > 0) { this.zeroSince = undefined; return desired; }
    if (!spec.scaleToZero) return 1;
    if (current === 0) return 0;
    this.zeroSince ??= now;
    const hold = Math.max(spec.scaleToZeroGracePeriodMs, spec.scaleToZeroRetentionMs);
    return now - this.zeroSince >= hold ? 0 : 1;
  }

  /** ms until a pending scale-to-zero happens, or undefined when none is pending. */
  pendingMs(now: number, spec: ScalingSpec): number | undefined {
    if (this.zeroSince === undefined) return undefined;
    return Math.max(0, this.zeroSince + Math.max(spec.scaleToZeroGracePeriodMs, spec.scaleToZeroRetentionMs) - now);
  }
}
