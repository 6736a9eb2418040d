/**
 * The process provider makes the next instance's directory ahead (off the cold-start path):
 * a start takes it (its id, links to the bundle, the secrets written at start), another is
 * made after, and a new version replaces a spare made for the old one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunction } from '../../src/faas/build/index.js';
import { ProcessProvider } from '../../src/faas/runtime/index.js';
import type { FunctionRecord } from '../../src/faas/types.js';
import { until } from './activator-fixture.js';

const HANDLER = `
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
export default async () => ({ cwd: process.cwd(), secret: readFileSync(join(process.env.TRELLIS_SECRETS_DIR, 'key'), 'utf8'), v: VERSION });
`;

function record(bundleId: string, version: number): FunctionRecord {
  const now = new Date().toISOString();
  return { name: 'f', spec: { service: 'f', secrets: ['key'] }, bundleId, createdAt: now, updatedAt: now, replicas: 0, version };
}

test('a cold start takes the instance directory made ahead; the next one is made after it', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-spare-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bundle = async (v: number) => {
    const dir = join(root, `src${v}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'handler.js'), HANDLER.replace('VERSION', String(v)));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    return (await buildFunction(dir, { cacheDir: join(root, 'bundles') })).bundleId;
  };
  const runDir = join(root, 'run');
  mkdirSync(runDir);
  const p = new ProcessProvider({ bundlesDir: join(root, 'bundles'), runDir, resolveSecret: () => 'sekret', startTimeoutMs: 10_000 });
  t.after(() => p.close());
  const fnDir = join(runDir, 'f');
  const dirs = () => (existsSync(fnDir) ? readdirSync(fnDir).sort() : []);

  const b1 = await bundle(1);
  await p.deploy(record(b1, 1));
  await until('a spare directory for the function at zero', () => dirs().length === 1);
  const [spare] = dirs();
  assert.match(spare, /^f-1-[0-9a-f]{6}$/);
  assert.equal(readlinkSync(join(fnDir, spare, 'work', 'handler.js')), join(root, 'bundles', b1, 'handler.js'));
  assert.deepEqual(readdirSync(join(fnDir, spare, 'secrets')), [], 'no secrets in a directory made ahead');

  const inst = await p.startInstance('f');
  assert.equal(inst.id, spare, 'the start took the spare id and directory');
  const r = await (await fetch(`http://${inst.host}:${inst.port}/`)).json() as { cwd: string; secret: string; v: number };
  assert.equal(r.cwd, join(fnDir, spare, 'work'));
  assert.equal(r.secret, 'sekret', 'secrets are written when the directory is taken');
  await until('the next spare', () => dirs().length === 2);

  // A new version: the spare of version 1 goes, one for version 2 comes.
  const b2 = await bundle(2);
  await p.deploy(record(b2, 2));
  const spares = () => { const used = new Set(p.instances('f').map((i) => i.id)); return dirs().filter((d) => !used.has(d)); };
  await until('one spare, for version 2', () => spares().length === 1 && spares()[0].startsWith('f-2-'));
  const spare2 = spares()[0];
  await p.scale('f', 0);
  await until('all instances gone', () => p.instances('f').length === 0);
  const inst2 = await p.startInstance('f');
  assert.equal(inst2.id, spare2);
  assert.equal((await (await fetch(`http://${inst2.host}:${inst2.port}/`)).json() as { v: number }).v, 2);
});
