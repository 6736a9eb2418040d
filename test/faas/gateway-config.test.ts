/**
 * The `gateway:` YAML section shared by `trellis gateway --config` and `trellis up`: autoscaler
 * settings (Knative's config-autoscaler names) and warm pool sizes reach the platform; every
 * error names the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { gatewaySectionSchema, gatewaySettings, parseGatewaySection } from '../../src/faas/gateway/config.js';
import { startFunctionPlatform } from '../../src/faas/gateway/platform.js';
import { gatewayComponent } from '../../src/cli/commands/up-gateway.js';

const settingsOf = (yaml: string) => gatewaySettings(parseGatewaySection(gatewaySectionSchema, (parseYaml(yaml) as { gateway: unknown }).gateway));

test('gateway section: Knative-style autoscaler keys and warm pool sizes; errors name the field', () => {
  const s = settingsOf(`
gateway:
  warm_pool: { node: 1, python3: 0 }
  autoscaler:
    stable_window: 30s
    panic_window_percentage: 20
    panic_threshold_percentage: 300
    scale_to_zero_grace_period: 1m
    container_concurrency_target_percentage: 50
    container_concurrency_target_default: 10
    tick_interval: 500ms
    enable_scale_to_zero: false
`);
  assert.deepEqual(s.warmPool, { node: 1, python3: 0 });
  assert.deepEqual(s.autoscaler, {
    stableWindowMs: 30_000, panicWindowPercentage: 20, panicThresholdPercentage: 300, scaleToZeroGracePeriodMs: 60_000,
    targetUtilization: 0.5, concurrencyTargetDefault: 10, tickIntervalMs: 500, enableScaleToZero: false,
  });
  assert.deepEqual(settingsOf('gateway: { warm_pool: false }'), { warmPool: false, autoscaler: {} });
  assert.deepEqual(settingsOf('gateway: {}'), { warmPool: true, autoscaler: {} });
  assert.equal(settingsOf('gateway: { autoscaler: { target_utilization_percentage: 80 } }').autoscaler.targetUtilization, 0.8);

  const refused = (yaml: string, re: RegExp) => assert.throws(() => settingsOf(yaml), (e: Error) => { assert.match(e.message, re); return true; });
  refused('gateway: { autoscaler: { stable_window: soon } }', /^gateway\.autoscaler\.stable_window: "soon" is not a duration/);
  refused('gateway: { autoscaler: { panic_threshold_percentage: 50 } }', /^gateway\.autoscaler\.panic_threshold_percentage: 50 is invalid: must be in \[110, 1000\]/);
  refused('gateway: { autoscaler: { container_concurrency_target_percentage: 0 } }', /^gateway\.autoscaler\.container_concurrency_target_percentage: 0 is invalid/);
  refused('gateway: { autoscaler: { tick_interval: "10" , stable_window: 0s } }', /^gateway\.autoscaler\.stable_window: 0s is invalid: must be at least 1000 ms/);
  refused('gateway: { autoscaler: { panic_window_percentage: lots } }', /^gateway\.autoscaler\.panic_window_percentage: must be a number/);
  refused('gateway: { autoscaler: { stable_windw: 30s } }', /^gateway\.autoscaler: unknown field\(s\) stable_windw/);
  refused('gateway: { autoscaler: { target_utilization_percentage: 70, container_concurrency_target_percentage: 70 } }', /give either .* not both/);
  refused('gateway: { warm_pool: { node: 100 } }', /^gateway\.warm_pool/);
  refused('gateway: { warm_pool: { ruby: 1 } }', /^gateway\.warm_pool/);
  refused('gateway: { listen: 8080 }', /^gateway\.listen: /);
  refused('gateway: { nope: 1 }', /^gateway: unknown field\(s\) nope/);
});

test('trellis gateway --config: a bad field is refused with its name before anything starts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-gwcfg-'));
  try {
    const file = join(dir, 'gw.yml');
    writeFileSync(file, 'gateway:\n  autoscaler:\n    scale_to_zero_grace_period: whenever\n');
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), resolve('src/cli/main.ts'), 'gateway', '--config', file, '--data-dir', join(dir, 'data')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /gw\.yml: gateway\.autoscaler\.scale_to_zero_grace_period: "whenever" is not a duration/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trellis up reads the same section: the same field names in its errors, plus its own keys', async () => {
  const start = (gateway: unknown) => gatewayComponent.start({ gateway } as never, { managedBackends: 0 });
  await assert.rejects(start({ autoscaler: { panic_window_percentage: 0 } }), /^ConfigError: gateway\.autoscaler\.panic_window_percentage: 0 is invalid: must be in \[1, 100\]/);
  await assert.rejects(start({ warm_pool: 'yes' }), /gateway\.warm_pool: must be true, false, or sizes/);
  await assert.rejects(start({ examples: 3 }), /gateway\.examples: /);
  assert.equal(await start({ enabled: false, autoscaler: { stable_window: '30s' }, warm_pool: { node: 1 } }), undefined, 'valid, and disabled');
});

test('startFunctionPlatform: the configured autoscaler scales an idle function to zero within seconds', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-gwcfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = settingsOf('gateway: { warm_pool: { node: 0, python3: 0 }, autoscaler: { stable_window: 2s, scale_to_zero_grace_period: 1s, tick_interval: 200ms } }');
  const gw = await startFunctionPlatform({ listen: '127.0.0.1:0', dataDir: join(dir, 'data'), adminPassword: 'pw', log: () => {}, warmPool: s.warmPool, autoscaler: s.autoscaler });
  t.after(() => gw.close());
  const auth = `Basic ${Buffer.from('admin:pw').toString('base64')}`;
  const dep = await fetch(`${gw.url()}/system/functions`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ service: 'idle', envProcess: 'cat' }) });
  assert.equal(dep.status, 202, await dep.text());
  const r = await fetch(`${gw.url()}/function/idle`, { method: 'POST', body: 'x' });
  assert.equal(await r.text(), 'x');
  // Knative's defaults (60 s window + 30 s grace) would keep it for 90 s; these settings ~3 s.
  const deadline = Date.now() + 30_000;
  while (gw.provider.instances('idle').length > 0) {
    assert.ok(Date.now() < deadline, `still ${gw.provider.instances('idle').length} instance(s) after 30 s`);
    await new Promise((res) => setTimeout(res, 100));
  }
  const again = await fetch(`${gw.url()}/function/idle`, { method: 'POST', body: 'back' });
  assert.equal(await again.text(), 'back', 'and it comes back from zero');
});
