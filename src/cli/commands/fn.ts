/**
 * `trellis fn ...` (like faas-cli) and `trellis login`. Gateway: --gateway, else
 * TRELLIS_GATEWAY, else the stack file's provider.gateway, else http://127.0.0.1:8080.
 * Credentials: `trellis login` (stored 0600), or TRELLIS_PASSWORD.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { GatewayClient } from '../client/gateway-client.js';
import { loadCredentials, resolveGateway, saveCredentials } from '../client/config.js';
import type { StackFunction } from '../client/stack.js';
import { LANGS } from '../../faas/build/manifest.js';
import { describeFunction, durationMs, printTable } from '../client/format.js';

/** Stack files, templates and the build pipeline load only for the commands that use them. */
const heavy = () => import('../client/index.js');

interface GatewayOpt { gateway?: string }

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');

function client(o: GatewayOpt, fromStack?: string): GatewayClient {
  const url = resolveGateway(o.gateway, fromStack);
  return new GatewayClient(url, loadCredentials(url));
}

function defaultStack(): string | undefined {
  return ['stack.yml', 'stack.yaml'].find((f) => existsSync(f));
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function pairs(list: string[] | undefined, what: string): Record<string, string> {
  const res: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new Error(`${what} "${item}" must look like KEY=VALUE`);
    res[item.slice(0, i)] = item.slice(i + 1);
  }
  return res;
}

function intArg(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number >= 0, got "${v}"`);
  return n;
}

function selectFunctions(fns: StackFunction[], filter?: string): StackFunction[] {
  const chosen = filter ? fns.filter((f) => f.name === filter) : fns;
  if (filter && chosen.length === 0) throw new Error(`no function "${filter}" in the stack file`);
  return chosen;
}

async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function registerFn(program: Command): void {
  const fn = program.command('fn').description('build, deploy, invoke and manage functions (like faas-cli)');

  fn.command('new <name>')
    .description('create a function from a template and add it to stack.yml')
    .requiredOption('--lang <lang>', `language: ${LANGS.join(' | ')}`)
    .option('-f, --yaml <file>', 'stack file to add the function to', 'stack.yml')
    .option('-g, --gateway <url>', 'gateway URL written to a new stack file')
    .action(async (name: string, o: { lang: string; yaml: string } & GatewayOpt) => {
      if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) throw new Error(`invalid function name "${name}": use a DNS-1123 label (lower-case letters, digits, "-")`);
      const { createFromTemplate, addToStack } = await heavy();
      const created = await createFromTemplate(name, o.lang, process.cwd());
      await addToStack(o.yaml, name, created.lang, resolveGateway(o.gateway));
      out(`created ./${name}/ (${created.lang}: ${created.files.join(', ')}) and added "${name}" to ${o.yaml}`);
      out(`next: trellis fn deploy -f ${o.yaml}`);
    });

  fn.command('build [dir]')
    .description('build a function directory (or every function of a stack file) into a bundle')
    .option('-f, --yaml <file>', 'stack file')
    .option('--lang <lang>', 'language (detected when omitted)')
    .option('--filter <name>', 'only this function of the stack file')
    .action(async (dir: string | undefined, o: { yaml?: string; lang?: string; filter?: string }) => {
      const stackFile = dir ? undefined : o.yaml ?? defaultStack();
      const { readStack, buildStackFunction } = await heavy();
      const fns: StackFunction[] = stackFile
        ? selectFunctions(readStack(stackFile).functions, o.filter).filter((f) => f.handlerDir)
        : [{ name: basename(resolve(dir ?? '.')), handlerDir: resolve(dir ?? '.'), lang: o.lang, environment: {}, labels: {}, annotations: {}, secrets: [] }];
      for (const f of fns) {
        out(`building ${f.name} from ${f.handlerDir}`);
        const r = await buildStackFunction(f, { log: out });
        out(`${f.name}: bundle ${r.bundleId} (${r.manifest.runtime}${r.cached ? ', cached' : ''}) at ${r.bundleDir}`);
      }
    });

  fn.command('deploy [dir]')
    .description('build, upload and deploy (a stack file, a directory, or a classic --fprocess)')
    .option('-f, --yaml <file>', 'stack file (default ./stack.yml when no dir is given)')
    .option('--name <name>', 'function name (default: the directory name)')
    .option('--lang <lang>', 'language (detected when omitted)')
    .option('--fprocess <cmd>', 'classic watchdog command forked per request (no build)')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .option('--label <KEY=VALUE>', 'label (repeatable)', collect)
    .option('--annotation <KEY=VALUE>', 'annotation (repeatable)', collect)
    .option('--secret <name>', 'secret mounted as a file (repeatable)', collect)
    .option('--memory <quantity>', 'memory limit, e.g. 128Mi')
    .option('--timeout <duration>', 'exec timeout, e.g. 30s')
    .option('--concurrency <n>', 'max in-flight requests per instance (0 = unlimited)')
    .option('--filter <name>', 'only this function of the stack file')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (dir: string | undefined, o: DeployFlags) => {
      const stackFile = dir || o.fprocess ? undefined : o.yaml ?? defaultStack();
      if (!dir && !o.fprocess && !stackFile) throw new Error('nothing to deploy: give a directory, -f stack.yml, or --fprocess with --name');
      const { readStack, deployStackFunction } = await heavy();
      const stack = stackFile ? readStack(stackFile) : undefined;
      const c = client(o, stack?.gateway);
      if (stack) refuseSingleFunctionFlags(o);
      const fns = stack ? selectFunctions(stack.functions, o.filter).map((f) => withDeployFlags(f, o)) : [singleFunction(dir, o)];
      for (const f of fns) await deployStackFunction(c, f, { log: out });
    });

  fn.command('list').alias('ls')
    .description('list deployed functions')
    .option('--json', 'print JSON')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (o: GatewayOpt & { json?: boolean }) => {
      const list = await client(o).list();
      if (o.json) { out(JSON.stringify(list, null, 2)); return; }
      const rows = list.map((s) => [s.name, String(s.invocationCount), `${s.availableReplicas}/${s.replicas}`, s.image || s.envProcess]);
      printTable([['Function', 'Invocations', 'Replicas', 'Image'], ...rows]);
    });

  fn.command('describe <name>')
    .description('show a function: replicas, instances, crash-loop state')
    .option('--json', 'print JSON')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (name: string, o: GatewayOpt & { json?: boolean }) => {
      const c = client(o);
      const s = await c.get(name);
      if (!s) throw new Error(`function "${name}" not found on ${c.url}`);
      if (o.json) { out(JSON.stringify(s, null, 2)); return; }
      describeFunction(c.url, s);
    });

  fn.command('invoke <name>')
    .description('invoke a function: stdin is the request body, the response body goes to stdout')
    .option('--method <method>', 'HTTP method', 'POST')
    .option('-H, --header <KEY=VALUE>', 'request header (repeatable)', collect)
    .option('--query <query>', 'query string, e.g. "a=1&b=2"')
    .option('--path <path>', 'sub-path after /function/<name>')
    .option('--content-type <type>', 'Content-Type of the body')
    .option('--async', 'queue the invocation (POST /async-function/<name>); prints the call id')
    .option('--callback-url <url>', 'with --async: where the result is POSTed')
    .option('--wait [seconds]', 'with --async: wait for the result and print it like a sync call (default 60 s)')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (name: string, o: InvokeFlags) => {
      const c = client(o);
      const headers = pairs(o.header, 'header');
      if (o.contentType) headers['content-type'] = o.contentType;
      const body = o.method.toUpperCase() === 'GET' || o.method.toUpperCase() === 'HEAD' ? undefined : await readStdin();
      if (o.async) { await invokeAsync(c, name, body, headers, o); return; }
      const res = await c.invoke(name, { method: o.method.toUpperCase(), path: o.path, query: o.query, headers, body });
      const payload = Buffer.from(await res.arrayBuffer());
      if (!res.ok) {
        process.stderr.write(payload);
        throw new Error(`${name} answered ${res.status}`);
      }
      process.stdout.write(payload);
    });

  fn.command('logs <name>')
    .description('print a function\'s logs (NDJSON from /system/logs, shown as lines)')
    .option('--tail <n>', 'only the last n lines')
    .option('--since <time>', 'RFC 3339 timestamp or a duration such as 5m')
    .option('--follow', 'keep printing new lines')
    .option('--instance <id>', 'only this instance')
    .option('--json', 'print the raw NDJSON')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (name: string, o: GatewayOpt & { tail?: string; since?: string; follow?: boolean; instance?: string; json?: boolean }) => {
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      const since = o.since && /^\d+(ms|s|m|h)$/.test(o.since) ? new Date(Date.now() - durationMs(o.since)).toISOString() : o.since;
      try {
        for await (const l of client(o).logs(name, { tail: o.tail !== undefined ? intArg(o.tail, '--tail') : undefined, since, follow: o.follow, instance: o.instance, signal: ac.signal })) {
          out(o.json ? JSON.stringify(l) : `${l.timestamp} ${l.instance} ${l.text}`);
        }
      } catch (e) {
        if (!ac.signal.aborted) throw e;
      }
    });

  fn.command('remove <name>').alias('rm')
    .description('remove a function')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (name: string, o: GatewayOpt) => {
      await client(o).remove(name);
      out(`removed ${name}`);
    });

  fn.command('scale <name>')
    .description('set a function\'s replicas')
    .requiredOption('--replicas <n>', 'wanted instances')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (name: string, o: GatewayOpt & { replicas: string }) => {
      const n = intArg(o.replicas, '--replicas');
      await client(o).scale(name, n);
      out(`scaled ${name} to ${n} replica(s)`);
    });

  const secret = program.command('secret').description('secrets mounted into functions as files ($TRELLIS_SECRETS_DIR/<name>)');
  secret.command('create <name>').alias('update')
    .description('create or update a secret; the value comes from --from-literal, --from-file or stdin')
    .option('--from-literal <value>', 'the value (visible in shell history; prefer stdin)')
    .option('--from-file <file>', 'read the value from a file')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (name: string, o: GatewayOpt & { fromLiteral?: string; fromFile?: string }) => {
      const value = o.fromLiteral ?? (o.fromFile ? readFileSync(o.fromFile, 'utf8') : (await readStdin()).toString('utf8'));
      if (!value) throw new Error('empty secret value: give --from-literal, --from-file or pipe it on stdin');
      out(`${name}: ${await client(o).putSecret(name, value)}`);
    });
  secret.command('list').alias('ls')
    .description('list secret names')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (o: GatewayOpt) => { for (const s of await client(o).listSecrets()) out(s.name); });
  secret.command('remove <name>').alias('rm')
    .description('remove a secret')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (name: string, o: GatewayOpt) => { await client(o).removeSecret(name); out(`removed secret ${name}`); });

  program.command('login')
    .description('store gateway credentials (mode 0600) for later commands')
    .option('-u, --username <user>', 'user name', 'admin')
    .option('--password-stdin', 'read the password from stdin')
    .option('-p, --password <password>', 'password (prefer --password-stdin: flags end up in shell history)')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (o: GatewayOpt & { username: string; passwordStdin?: boolean; password?: string }) => {
      let password = o.password;
      if (o.passwordStdin) password = (await readStdin()).toString('utf8').replace(/\r?\n$/, '');
      if (!password) throw new Error('give the password with --password-stdin (or --password)');
      if (o.password) err('warning: --password is visible in the process list and shell history; use --password-stdin');
      const url = resolveGateway(o.gateway);
      await new GatewayClient(url, { username: o.username, password }).info();
      const file = saveCredentials(url, { username: o.username, password });
      out(`credentials for ${url} saved in ${file}`);
    });
}

interface DeployFlags extends GatewayOpt {
  yaml?: string; name?: string; lang?: string; fprocess?: string; env?: string[]; label?: string[]; annotation?: string[];
  secret?: string[]; memory?: string; timeout?: string; concurrency?: string; filter?: string;
}

interface InvokeFlags extends GatewayOpt {
  method: string; header?: string[]; query?: string; path?: string; contentType?: string; async?: boolean; callbackUrl?: string;
  wait?: boolean | string;
}

function singleFunction(dir: string | undefined, o: DeployFlags): StackFunction {
  const name = o.name ?? (dir ? basename(resolve(dir)) : undefined);
  if (!name) throw new Error('--name is required with --fprocess');
  return withDeployFlags({ name, lang: o.lang, handlerDir: dir ? resolve(dir) : undefined, fprocess: o.fprocess, environment: {}, labels: {}, annotations: {}, secrets: [] }, o);
}

/**
 * A function as deployed with the command line's settings over it, as faas-cli does for a
 * stack: --env, --label and --annotation are merged over the file's (the command line wins),
 * --secret adds to its secrets, --memory, --timeout and --concurrency replace its values.
 */
function withDeployFlags(f: StackFunction, o: DeployFlags): StackFunction {
  const g: StackFunction = {
    ...f,
    environment: { ...f.environment, ...pairs(o.env, '--env') },
    labels: { ...f.labels, ...pairs(o.label, '--label') },
    annotations: { ...f.annotations, ...pairs(o.annotation, '--annotation') },
    secrets: [...new Set([...f.secrets, ...(o.secret ?? [])])],
  };
  if (o.memory) g.limits = { ...f.limits, memory: o.memory };
  if (o.timeout) g.timeout = o.timeout;
  if (o.concurrency !== undefined) g.concurrency = intArg(o.concurrency, '--concurrency');
  return g;
}

/** Flags that describe one function only: with a stack file they would be ambiguous. */
function refuseSingleFunctionFlags(o: DeployFlags): void {
  const given = ([['--name', o.name], ['--lang', o.lang]] as const).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (given.length > 0) throw new Error(`${given.join(' and ')} name${given.length > 1 ? '' : 's'} a single function: set it in the stack file, or deploy a directory`);
}

/** OpenFaaS async invocation (202 + X-Call-Id); --wait polls the queue's GET /system/async/{callId}. */
async function invokeAsync(c: GatewayClient, name: string, body: Buffer | undefined, headers: Record<string, string>, o: InvokeFlags): Promise<void> {
  const res = await c.invokeAsync(name, { path: o.path, query: o.query, headers, body, callbackUrl: o.callbackUrl });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`async invocation of ${name} failed: ${res.status} ${text.trim()}`);
  const callId = res.headers.get('x-call-id');
  if (!o.wait) { out(`queued ${name}: call id ${callId ?? '(none)'}`); return; }
  if (!callId) throw new Error('the gateway returned no X-Call-Id to wait for');
  err(`queued ${name}: call id ${callId}; waiting for the result`);
  const waitMs = (typeof o.wait === 'string' ? Number(o.wait) : 60) * 1000;
  if (!(waitMs > 0)) throw new Error(`--wait takes seconds, got "${String(o.wait)}"`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const st = await c.asyncStatus(callId);
    if (st.status === 'succeeded' || st.status === 'failed' || st.status === 'dead') {
      const r = st.result;
      if (r) process.stdout.write(Buffer.from(r.body, r.bodyEncoding === 'base64' ? 'base64' : 'utf8'));
      if (st.status !== 'succeeded') throw new Error(`call ${callId} ${st.status} after ${st.attempts} attempt(s)${r ? ` (status ${r.statusCode})` : ''}${st.lastError ? `: ${st.lastError}` : ''}`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`call ${callId} still ${st.status} after ${waitMs / 1000} s (check later: GET /system/async/${callId})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
