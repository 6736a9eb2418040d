/**
 * The instances a deployment starts with follow its scaling spec, with the autoscaler's
 * documented precedence (Knative annotations > OpenFaaS labels > platform defaults):
 * initial-scale, floored at min-scale, capped at max-scale; invalid keys are a 400 naming them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startGateway } from './gateway-helpers.js';

const KN = 'autoscaling.knative.dev/';

test('deploy: initial instances from min-scale / initial-scale / max-scale, Knative over OpenFaaS; bad keys → 400', async (t) => {
  const { url, provider } = await startGateway(t, { activator: 'direct' });
  const deployed = async (method: 'POST' | 'PUT', service: string, extra: Record<string, unknown>): Promise<number> => {
    const r = await api(url, method, '/system/functions', { service, envProcess: 'cat', ...extra });
    assert.ok(r.status === 202 || r.status === 200, `${service}: ${r.status} ${r.text}`);
    const status = JSON.parse((await api(url, 'GET', `/system/function/${service}`)).text) as { replicas: number; availableReplicas: number };
    assert.equal(status.availableReplicas, status.replicas, `${service}: every instance is up when the deploy returns`);
    assert.equal(provider.instances(service).length, status.replicas);
    return status.replicas;
  };

  assert.equal(await deployed('POST', 'plain', {}), 1, 'Knative initial-scale default: 1');
  assert.equal(await deployed('POST', 'floor', { annotations: { [`${KN}min-scale`]: '2' } }), 2);
  assert.equal(await deployed('POST', 'capped', { annotations: { [`${KN}initial-scale`]: '3', [`${KN}max-scale`]: '2' } }), 2);
  assert.equal(await deployed('POST', 'of-min', { labels: { 'com.openfaas.scale.min': '2' } }), 2, 'OpenFaaS scale.min when no Knative key');
  assert.equal(await deployed('POST', 'both', {
    labels: { 'com.openfaas.scale.min': '3' }, annotations: { [`${KN}min-scale`]: '1' },
  }), 1, 'the Knative annotation wins over the OpenFaaS label');

  // an update keeps the current count, moved into the new [min, max]
  assert.equal(await deployed('PUT', 'plain', { annotations: { [`${KN}min-scale`]: '2' } }), 2);
  assert.equal(await deployed('PUT', 'floor', { annotations: { [`${KN}max-scale`]: '1' } }), 1);

  const bad = async (extra: Record<string, unknown>, re: RegExp) => {
    const r = await api(url, 'POST', '/system/functions', { service: 'bad', envProcess: 'cat', ...extra });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, re);
  };
  await bad({ annotations: { [`${KN}min-scale`]: 'lots' } }, /^invalid deployment: autoscaling\.knative\.dev\/min-scale: "lots" is not a number/);
  await bad({ labels: { 'com.openfaas.scale.min': '3', 'com.openfaas.scale.max': '2' } }, /com\.openfaas\.scale\.min: min-scale 3 is greater than max-scale 2/);
  await bad({ annotations: { [`${KN}initial-scale`]: '0' } }, /autoscaling\.knative\.dev\/initial-scale: 0 is not allowed/);
  assert.equal(provider.instances('bad').length, 0);
});

test('deploy at zero with initial-scale 0 when the platform allows it (allowZeroInitialScale)', async (t) => {
  const { url, provider } = await startGateway(t, { activator: 'direct', autoscaler: { allowZeroInitialScale: true } });
  const r = await api(url, 'POST', '/system/functions', { service: 'lazy', envProcess: 'cat', annotations: { [`${KN}initial-scale`]: '0' } });
  assert.equal(r.status, 202, r.text);
  assert.equal(JSON.parse((await api(url, 'GET', '/system/function/lazy')).text).replicas, 0);
  assert.equal(provider.instances('lazy').length, 0);
  // the first call starts one
  const res = await fetch(`${url}/function/lazy/first`);
  assert.equal(res.status, 200);
  await res.text();
});
