import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  autoscalerConfig, FunctionScaler, KpaDecider, MetricCollector, parseDurationMs,
  resolveScalingSpec, ScaleToZeroGate, ScalingSpecError, type ScalingSpec,
} from '../../src/faas/autoscaler/index.js';
import type { FunctionDeployment } from '../../src/faas/types.js';

const cfg = autoscalerConfig();
const spec = (d: Partial<FunctionDeployment> = {}, c = cfg): ScalingSpec =>
  resolveScalingSpec('fn', { service: 'fn', ...d }, c);

test('durations: Go style and bare seconds', () => {
  assert.equal(parseDurationMs('30s'), 30_000);
  assert.equal(parseDurationMs('1m30s'), 90_000);
  assert.equal(parseDurationMs('500ms'), 500);
  assert.equal(parseDurationMs('2h'), 7_200_000);
  assert.equal(parseDurationMs('60'), 60_000);
  assert.equal(parseDurationMs(1.5), 1500);
  assert.throws(() => parseDurationMs('10 parsecs', 'window'), /window: "10 parsecs" is not a duration/);
  assert.throws(() => parseDurationMs(''), /not a duration/);
});

test('defaults are Knative\'s', () => {
  const s = spec();
  assert.equal(s.metric, 'concurrency');
  assert.equal(s.total, 100);          // CC = 0 → container-concurrency-target-default
  assert.equal(s.target, 70);          // 100 × 70 %
  assert.equal(s.stableWindowMs, 60_000);
  assert.equal(s.panicWindowMs, 6_000); // 10 % of 60 s
  assert.equal(s.panicThreshold, 2);
  assert.equal(s.maxScaleUpRate, 1000);
  assert.equal(s.maxScaleDownRate, 2);
  assert.equal(s.scaleToZeroGracePeriodMs, 30_000);
  assert.equal(s.minScale, 0);
  assert.equal(s.maxScale, 0);
  assert.equal(s.initialScale, 1);
  assert.equal(s.scaleToZero, true);
  assert.equal(s.timeoutMs, 60_000);
  assert.equal(s.targetBurstCapacity, 211);
});

test('target: CC=10 → 7/instance; rps → 140; target annotation capped by CC; utilization', () => {
  assert.equal(spec({ concurrency: 10 }).target, 7);                         // 10 × 0.7
  assert.equal(spec({ annotations: { 'autoscaling.knative.dev/metric': 'rps' } }).target, 140); // 200 × 0.7
  // target 50 with CC 10: total = min(50, 10) = 10 → 7
  assert.equal(spec({ concurrency: 10, annotations: { 'autoscaling.knative.dev/target': '50' } }).target, 7);
  // target 50, CC unlimited, utilization 50 % → 25
  const s = spec({ annotations: { 'autoscaling.knative.dev/target': '50', 'autoscaling.knative.dev/target-utilization-percentage': '50' } });
  assert.equal(s.total, 50);
  assert.equal(s.target, 25);
  // OpenFaaS: capacity with target 20 and proportion 0.9 → 18
  const o = spec({ labels: { 'com.openfaas.scale.type': 'capacity', 'com.openfaas.scale.target': '20', 'com.openfaas.scale.target-proportion': '0.9' } });
  assert.equal(o.metric, 'concurrency');
  assert.equal(o.target, 18);
  assert.equal(spec({ envVars: { max_inflight: '4' } }).containerConcurrency, 4);
});

test('precedence: Knative annotations > OpenFaaS labels > defaults', () => {
  const s = spec({
    labels: { 'com.openfaas.scale.min': '2', 'com.openfaas.scale.max': '10', 'com.openfaas.scale.type': 'rps', 'com.openfaas.scale.zero-duration': '5m' },
    annotations: { 'autoscaling.knative.dev/max-scale': '3', 'autoscaling.knative.dev/metric': 'concurrency' },
  });
  assert.equal(s.minScale, 2);      // only OpenFaaS sets it
  assert.equal(s.maxScale, 3);      // Knative wins over OpenFaaS' 10
  assert.equal(s.metric, 'concurrency');
  assert.equal(s.scaleToZeroRetentionMs, 300_000);
  assert.equal(spec({ labels: { 'com.openfaas.scale.zero': 'false' } }).scaleToZero, false);
  const w = spec({ annotations: { 'autoscaling.knative.dev/window': '20s', 'autoscaling.knative.dev/panic-window-percentage': '25', 'autoscaling.knative.dev/panic-threshold-percentage': '150' } });
  assert.equal(w.stableWindowMs, 20_000);
  assert.equal(w.panicWindowMs, 5_000); // 25 % of 20 s
  assert.equal(w.panicThreshold, 1.5);
  assert.equal(spec({ timeout: '2s' }).timeoutMs, 2000);
});

test('validation gives clear errors naming the key', () => {
  const bad = (d: Partial<FunctionDeployment>, re: RegExp) => assert.throws(() => spec(d), (e: unknown) => e instanceof ScalingSpecError && re.test((e as Error).message));
  bad({ annotations: { 'autoscaling.knative.dev/min-scale': 'two' } }, /autoscaling.knative.dev\/min-scale: "two" is not a number/);
  bad({ annotations: { 'autoscaling.knative.dev/min-scale': '5', 'autoscaling.knative.dev/max-scale': '2' } }, /min-scale 5 is greater than max-scale 2/);
  bad({ annotations: { 'autoscaling.knative.dev/window': '2s' } }, /window: 2s is out of range \[6s, 1h\]/);
  bad({ annotations: { 'autoscaling.knative.dev/panic-threshold-percentage': '100' } }, /out of range \[110, 1000\]/);
  bad({ annotations: { 'autoscaling.knative.dev/metric': 'cpu' } }, /"cpu" is not supported/);
  bad({ labels: { 'com.openfaas.scale.type': 'cpu' } }, /com.openfaas.scale.type: "cpu" is not supported/);
  bad({ labels: { 'com.openfaas.scale.zero': 'yes' } }, /must be true or false/);
  bad({ labels: { 'com.openfaas.scale.max': '1.5' } }, /not an integer/);
  bad({ concurrency: -1 }, /concurrency: -1/);
  bad({ timeout: 'soon' }, /timeout: "soon" is not a duration/);
  bad({ annotations: { 'autoscaling.knative.dev/class': 'hpa.autoscaling.knative.dev' } }, /not supported/);
  assert.throws(() => autoscalerConfig({ maxScaleDownRate: 1 }), /maxScaleDownRate = 1 is invalid: must be > 1/);
});

test('collector: time-weighted concurrency and rps per 1-s bucket', () => {
  const c = new MetricCollector(60_000);
  assert.equal(c.averages(0, 60_000, 6_000), undefined); // no data yet
  c.change(0, +1);
  c.change(0, +1);       // 2 in flight from t=0
  c.change(500, -1);
  c.change(500, -1);     // both done at t=500
  // over [0, 1000): area = 2 × 500 ms → average 1.0; 2 arrivals in 1 s → 2 rps
  assert.deepEqual(c.averages(1000, 60_000, 6_000), { stableConcurrency: 1, panicConcurrency: 1, stableRps: 2, panicRps: 2 });
  // At t=10 s, the window holds 10 s since the first observation: 1000 concurrency-ms / 10 s = 0.1
  const a = c.averages(10_000, 60_000, 6_000)!;
  assert.equal(a.stableConcurrency, 0.1);
  assert.equal(a.panicConcurrency, 0);   // the panic window (last 6 s) saw nothing
  // a constant 4 in flight from t=10 s to t=12 s: stable = (1000 + 8000) / 12 s = 0.75
  c.change(10_000, 4);
  const b = c.averages(12_000, 60_000, 6_000)!;
  assert.equal(b.stableConcurrency, 0.75);
  assert.equal(b.panicConcurrency, 8000 / 1000 / 6); // seconds 6..11 → 8000 conc-ms over 6 s
  // After a whole stable window with nothing, all history is gone: 0.
  c.change(12_000, -4);
  assert.equal(c.averages(80_000, 60_000, 6_000)!.stableConcurrency, 0);
});

test('KPA stable mode: desired = ceil(stable / target)', () => {
  const d = new KpaDecider(spec());
  // ready 3, stable 150, panic 150, target 70: ceil(150/70) = 3; 3/3 = 1 < 2 → no panic
  assert.deepEqual(d.scale({ now: 0, readyInstances: 3, stable: 150, panic: 150 }),
    { desired: 3, panicking: false, excessBurstCapacity: Math.floor(3 * 100 - 211 - 150), desiredStable: 3, desiredPanic: 3 });
});

test('KPA rate limits: scale-up 1000× ready, scale-down ÷2', () => {
  const d = new KpaDecider({ ...spec(), maxScaleUpRate: 2 });
  // ready 1 → maxScaleUp = ceil(2 × 1) = 2; stable 700/70 = 10 → 2. panic 0 so no panic.
  assert.equal(d.scale({ now: 0, readyInstances: 1, stable: 700, panic: 0 }).desired, 2);
  const e = new KpaDecider(spec());
  // ready 10, no load: maxScaleDown = floor(10 / 2) = 5 → desired 5, not 0
  assert.equal(e.scale({ now: 0, readyInstances: 10, stable: 0, panic: 0 }).desired, 5);
  // unreachable: no floor → 0
  assert.equal(e.scale({ now: 0, readyInstances: 10, stable: 0, panic: 0, reachable: false }).desired, 0);
  // at zero ready, readyPods counts as 1: floor(1/2) = 0 → 0
  assert.equal(e.scale({ now: 0, readyInstances: 0, stable: 0, panic: 0 }).desired, 0);
});

test('KPA panic: enters at 200 %, never scales down, exits after a stable window without panic', () => {
  const d = new KpaDecider(spec());
  // t=0: ready 1, panic 210 → dppc = 3; 3/1 ≥ 2 → panic; stable 35 → 1; desired max(1, 3) = 3
  let r = d.scale({ now: 0, readyInstances: 1, stable: 35, panic: 210 });
  assert.equal(r.panicking, true);
  assert.equal(r.desired, 3);
  // t=2 s: ready 3, load fell: panic 70 → 1, 1/3 < 2; stable 40 → 1. Still panicking → stays 3.
  r = d.scale({ now: 2000, readyInstances: 3, stable: 40, panic: 70 });
  assert.equal(r.panicking, true);
  assert.equal(r.desired, 3);
  // t=4 s: panic 700 → dppc 10; 10/3 ≥ 2 → panic timer restarts at 4 s; ratchet up to 10
  r = d.scale({ now: 4000, readyInstances: 3, stable: 100, panic: 700 });
  assert.equal(r.desired, 10);
  // t=63.999 s: < 4 s + 60 s → still panicking, still 10 even with no load
  r = d.scale({ now: 63_999, readyInstances: 10, stable: 0, panic: 0 });
  assert.equal(r.panicking, true);
  assert.equal(r.desired, 10);
  // t=64 s: a full stable window since the last crossing → stable mode; scale-down rate: floor(10/2) = 5
  r = d.scale({ now: 64_000, readyInstances: 10, stable: 0, panic: 0 });
  assert.equal(r.panicking, false);
  assert.equal(r.desired, 5);
});

test('KPA excess burst capacity and activation scale', () => {
  const base = spec();
  // TBC 211, ready 2, total 100, panic 50: floor(200 − 211 − 50) = −61 → activator stays in path
  assert.equal(new KpaDecider(base).scale({ now: 0, readyInstances: 2, stable: 50, panic: 50 }).excessBurstCapacity, -61);
  assert.equal(new KpaDecider({ ...base, targetBurstCapacity: 0 }).scale({ now: 0, readyInstances: 2, stable: 50, panic: 50 }).excessBurstCapacity, 0);
  assert.equal(new KpaDecider({ ...base, targetBurstCapacity: -1 }).scale({ now: 0, readyInstances: 2, stable: 50, panic: 50 }).excessBurstCapacity, -1);
  // activation-scale 3: any demand (ceil(1/70) = 1) is raised to 3; none stays 0
  const a = new KpaDecider({ ...base, activationScale: 3 });
  assert.equal(a.scale({ now: 0, readyInstances: 0, stable: 1, panic: 1 }).desired, 3);
  assert.equal(new KpaDecider({ ...base, activationScale: 3 }).scale({ now: 0, readyInstances: 0, stable: 0, panic: 0 }).desired, 0);
});

test('KPA scale-down delay keeps the max over the delay window', () => {
  const d = new KpaDecider({ ...spec(), scaleDownDelayMs: 10_000, maxScaleDownRate: 1000 });
  assert.equal(d.scale({ now: 0, readyInstances: 4, stable: 280, panic: 280 }).desired, 4); // 280/70 = 4
  assert.equal(d.scale({ now: 5000, readyInstances: 4, stable: 70, panic: 70 }).desired, 4); // 1, but 4 seen 5 s ago
  assert.equal(d.scale({ now: 10_001, readyInstances: 4, stable: 70, panic: 70 }).desired, 1); // the 4 left the window
});

test('scale-to-zero waits max(grace, retention) after desired first hits 0', () => {
  const g = new ScaleToZeroGate();
  const s = { ...spec(), scaleToZeroGracePeriodMs: 30_000, scaleToZeroRetentionMs: 45_000 };
  assert.equal(g.apply(0, 100_000, s), 1);
  assert.equal(g.pendingMs(100_000, s), 45_000);
  assert.equal(g.apply(0, 144_999, s), 1);
  assert.equal(g.apply(0, 145_000, s), 0);
  assert.equal(g.apply(2, 146_000, s), 2); // demand resets the timer
  assert.equal(g.apply(0, 147_000, s), 1);
  assert.equal(new ScaleToZeroGate().apply(0, 0, { ...s, scaleToZero: false }), 1);
  assert.equal(new ScaleToZeroGate().apply(0, 0, s, 0), 0, 'already at zero: nothing is started to be kept');
});

test('function scaler: burst from zero, panic, then back to zero (short windows)', () => {
  const c = autoscalerConfig({ stableWindowMs: 10_000, scaleToZeroGracePeriodMs: 3_000 });
  const f = new FunctionScaler(spec({ concurrency: 1, annotations: { 'autoscaling.knative.dev/max-scale': '5' } }, c));
  // target = 1 × 0.7 = 0.7. No data: invalid, keep what runs.
  assert.equal(f.decide(0, 0).valid, false);
  for (let i = 0; i < 20; i++) f.collector.change(0, +1); // 20 held at t=0
  // t=1 s: average 20 → ceil(20/0.7) = 29 → panic (29/1 ≥ 2) → bounded by max-scale 5
  let d = f.decide(1000, 0);
  assert.equal(d.panicking, true);
  assert.equal(d.desired, 29);
  assert.equal(d.want, 5);
  for (let i = 0; i < 20; i++) f.collector.change(2000, -1); // all served by t=2 s
  // t=4 s: panicking since 1 s → no scale-down
  assert.equal(f.decide(4000, 5).want, 5);
  // t=11 s: panic over (last crossing at 1 s + 10 s window). Stable window = seconds 1..10:
  // 20 in flight during second 1 → 20 000 conc-ms / 10 s = 2 → ceil(2/0.7) = 3 (rate floor 5/2 = 2)
  d = f.decide(11_000, 5);
  assert.equal(d.panicking, false);
  assert.equal(d.want, 3);
  // t=13 s: window [3 s, 13 s] has no load → 0 → rate floor(3/2) = 1
  assert.equal(f.decide(13_000, 3).want, 1);
  assert.equal(f.decide(15_000, 1).want, 1);    // floor(1/2) = 0: desired 0 first seen, grace (3 s) starts
  assert.equal(f.decide(17_000, 1).want, 1);
  assert.equal(f.decide(18_000, 1).want, 0);    // 15 s + 3 s
});

test('min-scale keeps instances; initial-scale is a floor until reached', () => {
  const f = new FunctionScaler(spec({ annotations: { 'autoscaling.knative.dev/min-scale': '2', 'autoscaling.knative.dev/initial-scale': '3' } }));
  f.collector.touch(0);
  assert.equal(f.decide(2000, 0).want, 3); // initial 3 not reached yet
  assert.equal(f.decide(4000, 3).want, 2); // reached; no load → floor(3/2)=1 → min 2
  assert.equal(f.decide(600_000, 2).want, 2); // never below min-scale
});

test('OpenFaaS scale.zero=true takes an idle function below scale.min; Knative min-scale stays a floor', () => {
  const c = autoscalerConfig({ stableWindowMs: 6000, scaleToZeroGracePeriodMs: 2000 });
  const of = new FunctionScaler(spec({ labels: { 'com.openfaas.scale.min': '2', 'com.openfaas.scale.zero': 'true', 'com.openfaas.scale.zero-duration': '5s' } }, c));
  of.collector.touch(0);
  assert.equal(of.decide(1000, 0).want, 0);      // at zero and idle: stays at zero (nothing to keep)
  assert.equal(of.decide(2000, 2).want, 2);      // 2 running (the deploy's scale.min), idle: kept through the hold
  of.collector.change(3000, +1);
  assert.equal(of.decide(4000, 2).want, 2);      // traffic resets the hold; ceil(0.5/70) = 1 → min 2
  of.collector.change(4000, -1);
  assert.equal(of.decide(9_000, 2).want, 2);     // window [3 s, 9 s] still saw traffic
  assert.equal(of.decide(11_000, 2).want, 2);    // window [5 s, 11 s] empty: idle, hold max(grace 2 s, retention 5 s) starts
  assert.equal(of.decide(15_999, 2).want, 2);
  assert.equal(of.decide(16_000, 2).want, 0);    // 11 s + 5 s: below min, to zero
  const kn = new FunctionScaler(spec({ labels: { 'com.openfaas.scale.zero': 'true' }, annotations: { 'autoscaling.knative.dev/min-scale': '2' } }, c));
  kn.collector.touch(0);
  assert.equal(kn.decide(60_000, 2).want, 2);
  assert.equal(kn.decide(90_000, 2).want, 2);
  // initial-scale above max-scale is clamped to it
  assert.equal(spec({ annotations: { 'autoscaling.knative.dev/initial-scale': '5', 'autoscaling.knative.dev/max-scale': '3' } }).initialScale, 3);
});
