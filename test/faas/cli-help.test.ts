/**
 * `trellis` loads only the requested command's module (fast calls; one command's module cannot
 * break another), and the help stays complete: the top-level help lists every command, each
 * command's help its subcommands and options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const MAIN = resolve('src/cli/main.ts');
const TSX = import.meta.resolve('tsx');

test('trellis --help and <cmd> --help are complete; a command loads only its own module', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-help-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A resolve hook recording every module the CLI loads.
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) { const r = await next(spec, ctx); appendFileSync(process.env.TRACE_FILE, r.url + '\\n'); return r; }\n`);
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  let n = 0;
  const run = (...args: string[]) => {
    const trace = join(dir, `trace-${n++}`);
    writeFileSync(trace, '');
    const r = spawnSync(process.execPath, ['--import', TSX, '--import', pathToFileURL(register).href, MAIN, ...args], {
      encoding: 'utf8', env: { ...process.env, TRACE_FILE: trace }, timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return { out: r.stdout, loaded: readFileSync(trace, 'utf8') };
  };

  const top = run('--help');
  for (const c of ['up', 'redis-proxy', 'gateway', 'fn', 'secret', 'login', 'async']) assert.match(top.out, new RegExp(`^  ${c} `, 'm'), c);
  const fn = run('fn', '--help');
  for (const c of ['new', 'build', 'deploy', 'list|ls', 'describe', 'invoke', 'logs', 'remove|rm', 'scale']) assert.ok(fn.out.includes(`  ${c} `), c);
  assert.match(run('fn', 'invoke', '--help').out, /--async/);
  assert.match(run('secret', '--help').out, /create\|update/);
  assert.match(run('gateway', '--help').out, /--no-warm-pool/);
  assert.match(run('up', '--help').out, /--gateway-listen/);

  const invoke = run('fn', 'invoke', '--help');
  assert.match(invoke.loaded, /\/src\/cli\/commands\/fn\.ts/);
  for (const other of ['/src/redis/', '/src/cli/commands/redis-proxy.ts', '/src/cli/commands/up.ts', '/src/faas/gateway/platform.ts', '/src/faas/queue/', '/src/faas/build/pipeline.ts']) {
    assert.ok(!invoke.loaded.includes(other), `trellis fn invoke loaded ${other}`);
  }
  const gw = run('gateway', '--help');
  assert.ok(!gw.loaded.includes('/src/faas/gateway/platform.ts'), 'trellis gateway --help does not load the platform');
});
