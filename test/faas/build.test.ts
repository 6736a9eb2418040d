/** The build pipeline and the tar.gz helpers, on real files (and GNU tar for compatibility). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildFunction, extractTarGz, packDir, packEntries, readManifest } from '../../src/faas/build/index.js';

function tmp(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'trellis-build-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function write(dir: string, files: Record<string, string>): string {
  for (const [f, c] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), c);
  }
  return dir;
}

test('a TypeScript handler is compiled, described by a manifest, and cached by content hash', async (t) => {
  const root = tmp(t);
  const src = write(join(root, 'src'), {
    'handler.ts': `import { greet } from './lib/greet.js';\nexport default async (req: { query: Record<string, string> }): Promise<string> => greet(req.query.name ?? 'world');\n`,
    'lib/greet.ts': `export const greet = (n: string): string => \`hello \${n}\`;\n`,
    'data/words.txt': 'asset\n',
    'node_modules/ignored/index.js': 'not source',
  });
  const cacheDir = join(root, 'cache');
  const lines: string[] = [];
  const first = await buildFunction(src, { cacheDir, onLog: (l) => lines.push(l) });
  assert.equal(first.cached, false);
  assert.match(first.bundleId, /^[a-f0-9]{64}$/);
  assert.deepEqual(readManifest(first.bundleDir), first.manifest);
  assert.equal(first.manifest.runtime, 'node');
  assert.equal(first.manifest.lang, 'typescript');
  assert.equal(first.manifest.handler, 'handler.js');
  for (const [i, name] of ['detect runtime', 'copy sources', 'install dependencies', 'compile typescript', 'write manifest'].entries()) {
    assert.ok(lines.some((l) => l.startsWith(`[${i + 1}/5] ${name} ...`)), `progress line for ${name}:\n${lines.join('\n')}`);
  }
  assert.ok(lines.some((l) => /^\[4\/5\] compile typescript \.\.\. \d+\.\d\ds$/.test(l)));
  assert.ok(lines.some((l) => l.includes('lib/greet.ts -> lib/greet.js')));
  assert.equal(readFileSync(join(first.bundleDir, 'data/words.txt'), 'utf8'), 'asset\n');
  assert.equal(existsSync(join(first.bundleDir, 'node_modules')), false);
  const mod = await import(pathToFileURL(join(first.bundleDir, 'handler.js')).href) as { default: (r: unknown) => Promise<string> };
  assert.equal(await mod.default({ query: { name: 'trellis' } }), 'hello trellis');

  const again: string[] = [];
  const second = await buildFunction(src, { cacheDir, onLog: (l) => again.push(l) });
  assert.equal(second.cached, true);
  assert.equal(second.bundleId, first.bundleId);
  assert.ok(again.some((l) => l.startsWith('cached:')));
  assert.ok(!again.some((l) => l.includes('compile typescript')));

  writeFileSync(join(src, 'lib/greet.ts'), `export const greet = (n: string): string => \`hi \${n}\`;\n`);
  const third = await buildFunction(src, { cacheDir });
  assert.equal(third.cached, false);
  assert.notEqual(third.bundleId, first.bundleId);
});

test('dependencies are installed with npm (log streamed); syntax errors fail the build with file:line', async (t) => {
  const root = tmp(t);
  const src = write(join(root, 'src'), {
    'package.json': JSON.stringify({ name: 'fn', version: '1.0.0', type: 'module', dependencies: { localdep: 'file:./localdep' } }),
    'localdep/package.json': JSON.stringify({ name: 'localdep', version: '1.0.0', main: 'index.js' }),
    'localdep/index.js': 'module.exports = { answer: 42 };',
    'handler.js': `import dep from 'localdep';\nexport default async () => ({ answer: dep.answer });\n`,
  });
  const lines: string[] = [];
  const r = await buildFunction(src, { cacheDir: join(root, 'cache'), onLog: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /^\[3\/5\] install dependencies \.\.\. \d/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('  | ')), 'npm output is streamed line by line');
  const mod = await import(pathToFileURL(join(r.bundleDir, 'handler.js')).href) as { default: () => Promise<unknown> };
  assert.deepEqual(await mod.default(), { answer: 42 });

  const bad = write(join(root, 'bad'), { 'handler.ts': 'export default async () => {\n  return (1 +;\n};\n' });
  await assert.rejects(buildFunction(bad, { cacheDir: join(root, 'cache') }), /compile typescript.*handler\.ts:2:/s);
  await assert.rejects(buildFunction(write(join(root, 'empty'), { 'README.md': 'x' }), { cacheDir: join(root, 'cache') }), /cannot tell the language/);
});

test('python3 and bash sources get their runtime and mode', async (t) => {
  const root = tmp(t);
  const py = await buildFunction(write(join(root, 'py'), { 'handler.py': 'def handle(req):\n    return "ok"\n' }), { cacheDir: join(root, 'c') });
  assert.deepEqual([py.manifest.runtime, py.manifest.mode, py.manifest.handler], ['python3', 'http', 'handler.py']);
  const sh = await buildFunction(write(join(root, 'sh'), { 'handler.sh': 'cat\n' }), { cacheDir: join(root, 'c') });
  assert.deepEqual([sh.manifest.runtime, sh.manifest.mode, sh.manifest.envProcess], ['command', 'classic', 'bash handler.sh']);
});

test('tar.gz: round trip with long paths, GNU tar compatibility both ways, hostile archives refused', async (t) => {
  const root = tmp(t);
  const long = `${'deep/'.repeat(30)}file.txt`;
  const src = write(join(root, 'src'), { 'a.txt': 'A', [long]: 'L', 'bin/x.bin': '\u0000\u0001binary' });
  const gz = await packDir(src);
  const out = join(root, 'out');
  assert.equal(await extractTarGz(gz, out), 3);
  assert.equal(readFileSync(join(out, long), 'utf8'), 'L');
  assert.equal(readFileSync(join(out, 'bin/x.bin'), 'latin1'), '\u0000\u0001binary');
  assert.deepEqual(await packDir(src), gz, 'packing is deterministic');

  writeFileSync(join(root, 'ours.tgz'), gz);
  const listed = execFileSync('tar', ['tzf', join(root, 'ours.tgz')]).toString().split('\n');
  assert.ok(listed.includes(long) && listed.includes('a.txt'));
  execFileSync('tar', ['czf', join(root, 'gnu.tgz'), '-C', src, '.']);
  const out2 = join(root, 'out2');
  await extractTarGz(readFileSync(join(root, 'gnu.tgz')), out2);
  assert.equal(readFileSync(join(out2, long), 'utf8'), 'L');

  for (const path of ['../escape.txt', '/etc/evil', 'ok/../../x']) {
    const evil = gzipSync(packEntries([{ path, mode: 0o644, data: Buffer.from('x') }]));
    await assert.rejects(extractTarGz(evil, join(root, 'evil')), /bad tar/);
  }
  assert.equal(existsSync(join(root, 'escape.txt')), false);
  await assert.rejects(extractTarGz(Buffer.from('not gzip'), join(root, 'evil2')), /bad archive/);
  await assert.rejects(extractTarGz(gz, join(root, 'small'), { maxBytes: 1024 }), /bad archive/);
});
