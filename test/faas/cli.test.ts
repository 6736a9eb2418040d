/**
 * `trellis fn ...` and `trellis login` as real CLI processes against a real gateway running
 * the process provider: templates, stack.yml deploy (build + bundle upload), list,
 * describe, invoke, logs, scale, rolling redeploy, classic --fprocess, remove, auth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGateway } from '../../src/faas/gateway/index.js';
import { attachAsync } from '../../src/faas/queue/index.js';
import { ProcessProvider } from '../../src/faas/runtime/index.js';

const MAIN = resolve('src/cli/main.ts');
const TSX = import.meta.resolve('tsx');

interface Run { code: number | null; stdout: string; stderr: string }

function cli(cwd: string, env: Record<string, string>, args: string[], input?: string): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
      cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, ...env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.once('error', rej);
    child.once('close', (code) => res({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

test('trellis fn: new, deploy -f stack.yml, list, invoke, describe, scale, logs, update, remove; login', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-cli-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const gw = await createGateway({
    listen: '127.0.0.1:0', dataDir: join(root, 'data'), adminPassword: 'cli-secret', activator: 'direct', log: () => {},
    provider: ({ bundlesDir, secret }) => new ProcessProvider({ bundlesDir, resolveSecret: secret }),
  });
  t.after(() => gw.close());
  const asyncSvc = await attachAsync({
    addRoute: (m, p, h) => gw.addRoute(m, p, h),
    invoke: (name, req) => gw.invoke(name, req),
    functionMeta: (name) => gw.registry.record(name)?.spec,
  }, { driver: 'sqlite', dataDir: join(root, 'data') });
  t.after(() => asyncSvc.close());
  const work = join(root, 'work');
  const env = { TRELLIS_GATEWAY: gw.url(), TRELLIS_CONFIG_DIR: join(root, 'config') };
  const run = (args: string[], input?: string) => cli(root, env, args, input);
  const inWork = (args: string[], input?: string) => cli(work, env, args, input);
  await import('node:fs').then((fs) => fs.mkdirSync(work));

  // auth: nothing stored → 401 explained; a wrong password is refused; the right one is stored 0600
  const unauth = await run(['fn', 'list']);
  assert.equal(unauth.code, 1);
  assert.match(unauth.stderr, /unauthorized.*trellis login/);
  assert.equal((await run(['login', '--password-stdin'], 'wrong\n')).code, 1);
  const login = await run(['login', '--username', 'admin', '--password-stdin'], 'cli-secret\n');
  assert.equal(login.code, 0, login.stderr);
  const credFile = join(root, 'config', 'credentials.json');
  assert.equal(statSync(credFile).mode & 0o777, 0o600);
  assert.equal(JSON.parse(readFileSync(credFile, 'utf8')).gateways[gw.url()].password, 'cli-secret');

  // templates + stack.yml
  const made = await inWork(['fn', 'new', 'hello', '--lang', 'node']);
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await inWork(['fn', 'new', 'shout', '--lang', 'bash'])).code, 0);
  assert.equal((await inWork(['fn', 'new', 'Bad_Name', '--lang', 'node'])).code, 1);
  writeFileSync(join(work, 'stack.yml'), readFileSync(join(work, 'stack.yml'), 'utf8') + '  echo:\n    fprocess: cat\n    environment:\n      MODE: ${ECHO_MODE:-plain}\n');

  const deployed = await inWork(['fn', 'deploy']);
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.match(deployed.stdout, /\[4\/5\] compile typescript \.\.\. skipped/);
  assert.match(deployed.stdout, /hello: deployed/);
  assert.match(deployed.stdout, /echo: deployed/);

  const list = await run(['fn', 'list']);
  assert.equal(list.code, 0, list.stderr);
  for (const n of ['hello', 'shout', 'echo']) assert.match(list.stdout, new RegExp(`^${n}\\s+\\d+\\s+1/1`, 'm'));

  const inv = await run(['fn', 'invoke', 'hello', '--query', 'name=bob'], 'body');
  assert.equal(inv.code, 0, inv.stderr);
  assert.equal(JSON.parse(inv.stdout).message, 'Hello, bob!');
  const sh = await run(['fn', 'invoke', 'shout', '--path', '/x'], 'data');
  assert.equal(sh.code, 0, sh.stderr);
  assert.equal(sh.stdout.trim(), 'Hello from shout (POST /x): data');
  assert.equal((await run(['fn', 'invoke', 'echo'], 'round trip')).stdout, 'round trip');

  const queued = await run(['fn', 'invoke', 'hello', '--async', '--wait', '30', '--query', 'name=later'], '');
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(queued.stderr, /queued hello: call id \S+; waiting/);
  assert.equal(JSON.parse(queued.stdout).message, 'Hello, later!');

  const desc = await run(['fn', 'describe', 'hello']);
  assert.equal(desc.code, 0, desc.stderr);
  assert.match(desc.stdout, /^Status:\s+Ready$/m);
  assert.match(desc.stdout, /^Runtime:\s+node \(http mode\)$/m);
  assert.match(desc.stdout, /^Crash Loop:\s+no$/m);
  assert.match(desc.stdout, /^ {2}hello-1-\w+ {2}ready/m);
  assert.match((await run(['fn', 'describe', 'echo'])).stdout, /^Environment:\s+MODE=plain$/m);

  assert.equal((await run(['fn', 'scale', 'hello', '--replicas', '2'])).code, 0);
  assert.equal(gw.provider.instances('hello').filter((i) => i.state === 'ready').length, 2);

  const logs = await run(['fn', 'logs', 'hello', '--tail', '100']);
  assert.match(logs.stdout, /^\S+Z hello-1-\w+ ready in \d+ ms/m);

  // a source change rolls over to version 2
  writeFileSync(join(work, 'hello', 'handler.js'), 'export default async () => "v2";\n');
  const update = await inWork(['fn', 'deploy', '--filter', 'hello']);
  assert.equal(update.code, 0, update.stderr);
  assert.match(update.stdout, /hello: updated \(rolling\)/);
  const v2 = await run(['fn', 'invoke', 'hello'], '');
  assert.equal(v2.code, 0, v2.stderr);
  assert.equal(v2.stdout, 'v2');

  // command-line settings go over the stack file's, as with faas-cli
  const loud = await inWork(['fn', 'deploy', '--filter', 'echo', '-e', 'MODE=loud', '-e', 'EXTRA=1', '--label', 'team=edge']);
  assert.equal(loud.code, 0, loud.stderr);
  const echoDesc = (await run(['fn', 'describe', 'echo'])).stdout;
  assert.match(echoDesc, /^Environment:\s+.*MODE=loud/m);
  assert.match(echoDesc, /^Environment:\s+.*EXTRA=1/m);
  assert.match(echoDesc, /^Labels:\s+.*team=edge/m);
  const ambiguous = await inWork(['fn', 'deploy', '--name', 'other']);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /--name names a single function/);

  // secrets: created from stdin, mounted as a file for the function
  const sec = await run(['secret', 'create', 'api-key'], 'top-secret');
  assert.equal(sec.code, 0, sec.stderr);
  assert.equal((await run(['fn', 'deploy', '--name', 'peek', '--fprocess', "sh -c 'cat $TRELLIS_SECRETS_DIR/api-key'", '--secret', 'api-key'])).code, 0);
  assert.equal((await run(['fn', 'invoke', 'peek'], '')).stdout, 'top-secret');

  // classic deploy without a stack file, then remove → 404
  assert.equal((await run(['fn', 'deploy', '--name', 'rev', '--fprocess', 'rev'])).code, 0);
  assert.equal((await run(['fn', 'invoke', 'rev'], 'abc\n')).stdout, 'cba\n');
  assert.equal((await run(['fn', 'remove', 'rev'])).code, 0);
  const gone = await run(['fn', 'invoke', 'rev'], 'x');
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /rev answered 404/);
  const missing = await run(['fn', 'describe', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /function "nope" not found/);
});
