import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OUTLIER_DEFAULTS, OutlierDetector, type OutlierEvent } from '../../src/mesh/index.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);
const show = (evs: OutlierEvent[]) => evs.map((e) => `${e.type}:${e.host}@${e.at}${e.type === 'eject' ? `/${e.ejectionTimeMs}` : ''}`);

test('Envoy defaults', () => {
  assert.deepEqual({ ...OUTLIER_DEFAULTS }, {
    consecutive5xx: 5, enforcingConsecutive5xx: 100, consecutiveGatewayFailure: 5,
    enforcingConsecutiveGatewayFailure: 0, intervalMs: 10_000, baseEjectionTimeMs: 30_000,
    maxEjectionTimeMs: 300_000, maxEjectionPercent: 10,
  });
});

test('5 consecutive failures eject for base_ejection_time, then the host returns', () => {
  const d = new OutlierDetector(hosts(10));
  for (let i = 0; i < 4; i++) assert.equal(d.recordFailure('h1', 'timeout', i), undefined);
  assert.equal(d.isEjected('h1', 4), false);
  const ev = d.recordFailure('h1', 'connect_failure', 4);
  assert.deepEqual(ev, { type: 'eject', host: 'h1', at: 4, reason: 'consecutive_5xx', ejectionTimeMs: 30_000, timesEjected: 1 });
  assert.ok(d.isEjected('h1', 5));
  assert.ok(d.isEjected('h1', 30_003));
  assert.equal(d.ejectedUntil('h1', 10), 30_004);
  assert.equal(d.nextChangeAt(), 30_004);
  assert.equal(d.isEjected('h1', 30_004), false);
  assert.deepEqual(show(d.tick(30_004)), ['eject:h1@4/30000', 'uneject:h1@30004']);
  assert.deepEqual(d.tick(30_005), []);
});

test('a success resets the consecutive count; failures while ejected are ignored', () => {
  const d = new OutlierDetector(hosts(10), { consecutive5xx: 3 });
  d.recordFailure('h0', 'error', 0); d.recordFailure('h0', 'error', 1);
  d.recordSuccess('h0', 2);
  d.recordFailure('h0', 'reset', 3); d.recordFailure('h0', 'reset', 4);
  assert.equal(d.isEjected('h0', 4), false);
  assert.equal(d.recordFailure('h0', 'reset', 5)?.type, 'eject');
  assert.equal(d.recordFailure('h0', 'reset', 6), undefined);
});

test('ejection time grows with repeated ejections, capped by max_ejection_time, and decays', () => {
  const d = new OutlierDetector(hosts(1), { consecutive5xx: 1, baseEjectionTimeMs: 100, maxEjectionTimeMs: 250, intervalMs: 1000 });
  let t = 0;
  const times: number[] = [];
  for (let k = 0; k < 4; k++) {
    const ev = d.recordFailure('h0', 'error', t);
    assert.equal(ev?.type, 'eject');
    if (ev?.type === 'eject') { times.push(ev.ejectionTimeMs); t = ev.at + ev.ejectionTimeMs; }
    d.tick(t);
  }
  assert.deepEqual(times, [100, 200, 250, 250]);
  assert.equal(d.timesEjected('h0'), 4);
  // healthy for two intervals: the multiplier drops by two
  d.tick(t + 1000);
  d.tick(t + 2000);
  assert.equal(d.timesEjected('h0'), 2);
  const ev = d.recordFailure('h0', 'error', t + 2000);
  assert.equal(ev?.type === 'eject' && ev.ejectionTimeMs, 250); // 3 × 100 capped
});

test('max_ejection_percent: no new ejection once the ejected share reaches it (one may go past, as Envoy)', () => {
  const d = new OutlierDetector(hosts(4), { consecutive5xx: 1 }); // 10 % of 4 hosts < 1 host
  assert.equal(d.recordFailure('h0', 'error', 0)?.type, 'eject');
  assert.equal(d.recordFailure('h1', 'error', 1)?.type, 'overflow');
  assert.equal(d.isEjected('h1', 1), false);
  assert.equal(d.ejectedCount(1), 1);
  const half = new OutlierDetector(hosts(4), { consecutive5xx: 1, maxEjectionPercent: 50 });
  assert.equal(half.recordFailure('h0', 'error', 0)?.type, 'eject');
  assert.equal(half.recordFailure('h1', 'error', 0)?.type, 'eject');
  assert.equal(half.recordFailure('h2', 'error', 0)?.type, 'overflow');
  // once h0 returns, h2 can be ejected
  assert.equal(half.recordFailure('h2', 'error', 30_000)?.type, 'eject');
  assert.deepEqual(show(half.tick(30_000)).filter((e) => e.startsWith('uneject')), ['uneject:h0@30000', 'uneject:h1@30000']);
  // 3 hosts, 50 %: 0 % and 33 % ejected are below the cap, so a second ejection (66 %) happens
  const three = new OutlierDetector(hosts(3), { consecutive5xx: 1, maxEjectionPercent: 50 });
  assert.equal(three.recordFailure('h0', 'error', 0)?.type, 'eject');
  assert.equal(three.recordFailure('h1', 'error', 0)?.type, 'eject');
  assert.equal(three.recordFailure('h2', 'error', 0)?.type, 'overflow');
  const none = new OutlierDetector(hosts(3), { consecutive5xx: 1, maxEjectionPercent: 0 });
  assert.equal(none.recordFailure('h0', 'error', 0)?.type, 'overflow');
});

test('gateway failures: counted separately, enforced only when enforcing_consecutive_gateway_failure > 0', () => {
  const d = new OutlierDetector(hosts(2), { consecutive5xx: 10, consecutiveGatewayFailure: 2, enforcingConsecutiveGatewayFailure: 100, maxEjectionPercent: 100 });
  d.recordFailure('h0', 'error', 0); // a server error is not a gateway failure
  assert.equal(d.recordFailure('h0', 'timeout', 1), undefined);
  const ev = d.recordFailure('h0', 'connect_failure', 2);
  assert.equal(ev?.type === 'eject' && ev.reason, 'consecutive_gateway_failure');
  const off = new OutlierDetector(hosts(2), { consecutiveGatewayFailure: 2 }); // default enforcing 0 %
  for (let i = 0; i < 4; i++) assert.equal(off.recordFailure('h0', 'timeout', i), undefined);
  assert.equal(off.recordFailure('h0', 'timeout', 5)?.type, 'eject'); // the 5th counts for consecutive_5xx
});

test('enforcing percentage uses the injected random source', () => {
  const seq = [0.7, 0.2];
  let i = 0;
  const d = new OutlierDetector(hosts(2), { consecutive5xx: 1, enforcingConsecutive5xx: 50, maxEjectionPercent: 100, random: () => seq[i++] });
  assert.equal(d.recordFailure('h0', 'error', 0), undefined); // 70 ≥ 50: not enforced
  assert.equal(d.recordFailure('h0', 'error', 1)?.type, 'eject'); // 20 < 50
});

test('setHosts keeps known hosts state; unknown hosts are a clear error', () => {
  const d = new OutlierDetector(['a', 'b'], { consecutive5xx: 1, maxEjectionPercent: 100 });
  d.recordFailure('a', 'error', 0);
  d.setHosts(['a', 'c']);
  assert.ok(d.isEjected('a', 1));
  assert.throws(() => d.isEjected('b', 1), /unknown host "b"/);
  assert.equal(d.isEjected('c', 1), false);
  assert.throws(() => new OutlierDetector(['a'], { consecutive5xx: 0 }), /consecutive thresholds must be >= 1/);
  assert.throws(() => new OutlierDetector(['a'], { baseEjectionTimeMs: -5 }), /baseEjectionTimeMs must be a non-negative number/);
});

test('scenario: a backend flaps under load and is ejected, recovers, fails again for longer', () => {
  const d = new OutlierDetector(hosts(3), { maxEjectionPercent: 34 });
  const log: string[] = [];
  let down = false;
  for (let t = 0; t <= 200_000; t += 100) {
    if (t === 1000) down = true;
    if (t === 40_000) down = false;
    if (t === 60_000) down = true;
    if (t === 150_000) down = false;
    for (const h of hosts(3)) {
      if (d.isEjected(h, t)) continue; // the proxy would not send traffic there
      if (h === 'h2' && down) d.recordFailure(h, 'timeout', t);
      else d.recordSuccess(h, t);
    }
    if (t % 10_000 === 0) log.push(...show(d.tick(t)));
  }
  assert.deepEqual(log, [
    'eject:h2@1400/30000', 'uneject:h2@31400', // 5 failures at 1000..1400
    'eject:h2@31800/60000', // still down when it came back: ejected for 2 × base
    'uneject:h2@91800', 'eject:h2@92200/90000', // 3 × base
    'uneject:h2@182200',
  ]);
});
