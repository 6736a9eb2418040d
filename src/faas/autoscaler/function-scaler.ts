/**
 * One function's autoscaler: its metric collector, the KPA decider, bounds and scale-to-zero
 * gating, composed the way Knative's reconciler applies them. Still pure (clock passed in).
 */
import { MetricCollector, type WindowAverages } from './collector.js';
import { applyBounds, KpaDecider, ScaleToZeroGate, type ScaleResult } from './kpa.js';
import type { ScalingSpec } from './spec.js';

export interface Decision extends ScaleResult {
  /** false when there is no data yet: the caller should change nothing (Knative's invalid result). */
  valid: boolean;
  /** Desired after KPA, min/max bounds and scale-to-zero gating: what to run. */
  want: number;
  observed?: WindowAverages;
}

export class FunctionScaler {
  readonly collector: MetricCollector;
  private readonly decider: KpaDecider;
  private readonly gate = new ScaleToZeroGate();
  private initialised = false;

  constructor(private spec: ScalingSpec) {
    this.collector = new MetricCollector(spec.stableWindowMs);
    this.decider = new KpaDecider(spec);
  }

  get scalingSpec(): ScalingSpec { return this.spec; }

  updateSpec(spec: ScalingSpec): void { this.spec = spec; this.decider.updateSpec(spec); }

  /** Skips the initial-scale floor (a function found already deployed, e.g. after a restart). */
  skipInitialScale(): void { this.initialised = true; }

  decide(now: number, readyInstances: number): Decision {
    const s = this.spec;
    const observed = this.collector.averages(now, s.stableWindowMs, s.panicWindowMs);
    if (!observed) {
      const want = applyBounds(readyInstances, s.minScale, s.maxScale);
      return { valid: false, want, desired: readyInstances, panicking: false, excessBurstCapacity: -1, desiredStable: 0, desiredPanic: 0 };
    }
    const [stable, panic] = s.metric === 'rps'
      ? [observed.stableRps, observed.panicRps]
      : [observed.stableConcurrency, observed.panicConcurrency];
    const r = this.decider.scale({ now, readyInstances, stable, panic });
    let min = s.minScale;
    // initial-scale acts as a floor until it has been reached once (Knative's scale target init).
    if (!this.initialised) {
      if (readyInstances >= s.initialScale) this.initialised = true;
      else min = Math.max(min, s.initialScale);
    }
    const bounded = applyBounds(r.desired, min, s.maxScale);
    let want: number;
    if (s.idleBelowMin && stable === 0 && !r.panicking) {
      // OpenFaaS' scale.zero=true: idle keeps scale.min through the hold period, then goes to zero.
      want = this.gate.apply(0, now, s, readyInstances) === 0 ? 0 : Math.max(1, bounded);
    } else {
      want = this.gate.apply(bounded, now, s, readyInstances);
    }
    return { ...r, valid: true, want, observed };
  }
}
