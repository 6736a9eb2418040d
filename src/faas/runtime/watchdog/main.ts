/**
 * The Trellis node watchdog: one process per instance (run by the process provider).
 * Speaks the control protocol in protocol.ts; serves the function in http mode (handler
 * module loaded once) or classic mode (fork per request). Enforces max in-flight (429) and
 * the exec timeout (504; a handler that blocks the event loop is killed by the stall
 * monitor and the provider replaces the instance).
 */
import { existsSync, writeSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { openChannel } from './channel.js';
import { CONTROL_HEADER, CONTROL_TOKEN_ENV, REPORT_FD, type ChannelRequest, type LoadSpec, type ReportMessage, type WatchdogStats } from './protocol.js';
import { classicRunner, loadHttpRunner, plain, type Call, type Runner } from './runners.js';
import { prepareStallMonitor } from './stall-monitor.js';

const token = process.env[CONTROL_TOKEN_ENV] ?? '';
delete process.env[CONTROL_TOKEN_ENV];
const EMPTY = Buffer.alloc(0);
/** Bodies are buffered for the handler; beyond this the watchdog answers 413. */
const MAX_BODY = Number(process.env.TRELLIS_MAX_BODY_BYTES) > 0 ? Number(process.env.TRELLIS_MAX_BODY_BYTES) : 64 * 1024 * 1024;

let spec: LoadSpec | undefined;
let runner: Runner | undefined;
let loading = false;
let inflight = 0;
let served = 0;
let lastRequestAt = 0;
let draining = false;
let terminating = false;

function report(msg: ReportMessage): void {
  try { writeSync(REPORT_FD, JSON.stringify(msg) + '\n'); } catch { /* no report channel (run by hand) */ }
}

// Booted now, armed at load: keeps the worker's start-up off a cold start's critical path.
const stallMonitor = prepareStallMonitor();

const server = http.createServer(onRequest);
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.TRELLIS_WATCHDOG_PORT ?? 0), process.env.TRELLIS_WATCHDOG_HOST ?? '127.0.0.1', () => {
  const addr = server.address();
  report({ port: typeof addr === 'object' && addr ? addr.port : 0 });
});

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  if (url.startsWith('/_/') && control(req, res, url)) return;
  if (!runner || !spec) { req.resume(); plain(res, 503, 'function not loaded'); return; }
  serve(req, res, runner, spec);
}

/** A function request, run by `r` (the loaded function's runner, or the rehearsal's). */
function serve(req: IncomingMessage, res: ServerResponse, r: Runner, s: LoadSpec): void {
  if (draining) res.setHeader('connection', 'close');
  if (s.concurrency > 0 && inflight >= s.concurrency) { req.resume(); plain(res, 429, `max in-flight (${s.concurrency}) reached`); return; }
  inflight++;
  lastRequestAt = Date.now();
  let done = false;
  res.once('close', () => { if (done) return; done = true; inflight--; served++; maybeExit(); });
  const len = req.headers['content-length'];
  if ((len === undefined || len === '0') && req.headers['transfer-encoding'] === undefined) {
    req.resume();
    invoke(req, res, EMPTY, r, s.timeoutMs);
    return;
  }
  if (len !== undefined && Number(len) > MAX_BODY) { tooLarge(req, res); return; }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) { req.removeAllListeners('data'); req.removeAllListeners('end'); tooLarge(req, res); return; }
    chunks.push(c);
  });
  req.once('end', () => invoke(req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), r, s.timeoutMs));
}

function tooLarge(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  res.setHeader('connection', 'close');
  plain(res, 413, `request body larger than ${MAX_BODY} bytes (TRELLIS_MAX_BODY_BYTES)`);
}

/** In-flight calls with a deadline; one coarse sweep timer instead of a timer per request. */
const calls = new Set<Call>();
let sweep: NodeJS.Timeout | undefined;

function invoke(req: IncomingMessage, res: ServerResponse, body: Buffer, r: Runner, timeoutMs: number): void {
  const call: Call = { aborted: false, req, res, deadline: 0 };
  if (timeoutMs > 0) {
    call.deadline = Date.now() + timeoutMs;
    calls.add(call);
    sweep ??= startSweep(timeoutMs);
  }
  r.run(req, body, res, call).then(
    () => { calls.delete(call); },
    (err: unknown) => {
      calls.delete(call);
      const e = err instanceof Error ? err : new Error(String(err));
      process.stderr.write(`handler error: ${e.stack ?? e.message}\n`);
      if (!res.headersSent) plain(res, 500, `handler error: ${e.message}`);
    },
  );
}

function startSweep(timeoutMs: number): NodeJS.Timeout {
  const t = setInterval(() => {
    const now = Date.now();
    for (const c of calls) {
      if (c.deadline > now) continue;
      calls.delete(c);
      if (c.res.headersSent) continue;
      process.stderr.write(`watchdog: ${c.req.method} ${c.req.url} exceeded the exec timeout of ${timeoutMs} ms\n`);
      plain(c.res, 504, `function timed out after ${timeoutMs} ms`);
      c.aborted = true;
      c.onAbort?.();
    }
  }, Math.max(10, Math.min(250, Math.floor(timeoutMs / 20))));
  t.unref();
  return t;
}

/** Returns false when the path is not a control route (then it is the function's). */
function control(req: IncomingMessage, res: ServerResponse, url: string): boolean {
  const path = url.split('?')[0];
  const authed = token !== '' && req.headers[CONTROL_HEADER] === token;
  switch (path) {
    case '/_/health': req.resume(); plain(res, 200, 'OK'); return true;
    case '/_/ready':
      req.resume();
      if (!runner || draining) plain(res, 503, draining ? 'draining' : 'not loaded');
      else if (spec!.concurrency > 0 && inflight >= spec!.concurrency) plain(res, 429, 'at max in-flight');
      else plain(res, 200, 'OK');
      return true;
    case '/_/stats': {
      if (!authed) return false;
      req.resume();
      const s: WatchdogStats = { inflight, served, lastRequestAt, loaded: !!runner, draining };
      json(res, 200, s);
      return true;
    }
    case '/_/drain':
      if (!authed || req.method !== 'POST') return false;
      req.resume();
      draining = true;
      json(res, 200, { inflight });
      return true;
    case '/_/load': {
      if (!authed || req.method !== 'POST') return false;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.once('end', () => { void loadOverHttp(Buffer.concat(chunks), res); });
      return true;
    }
    default: return false;
  }
}

async function loadOverHttp(body: Buffer, res: ServerResponse): Promise<void> {
  let s: LoadSpec;
  try {
    s = JSON.parse(body.toString()) as LoadSpec;
  } catch (err) {
    process.stderr.write(`watchdog: load failed: ${(err as Error).message}\n`);
    json(res, 500, { error: (err as Error).message });
    return;
  }
  try {
    json(res, 200, { ok: true, loadMs: await load(s) });
    armAfterReply();
  } catch (err) {
    json(res, err instanceof AlreadyLoaded ? 409 : 500, { error: (err as Error).message });
  }
}

class AlreadyLoaded extends Error { constructor() { super('already loaded'); } }

/** Specialises this process with the function; resolves (load ms) once it serves it. */
async function load(s: LoadSpec): Promise<number> {
  // A pooled process taken while still rehearsing lets the rehearsal finish first (the
  // rehearsal's own load runs before `rehearsal` is set, so it does not wait on itself).
  await rehearsal;
  if (runner || loading) throw new AlreadyLoaded();
  loading = true;
  const t0 = Date.now();
  try {
    Object.assign(process.env, s.env);
    process.chdir(s.cwd);
    runner = s.mode === 'classic' ? classicRunner(s, findPrlimit()) : await loadHttpRunner(s);
    spec = s;
    if (s.mode === 'http' && s.timeoutMs > 0) stallLimitMs = s.timeoutMs + 1000;
    return Date.now() - t0;
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`watchdog: load failed: ${e.stack ?? e.message}\n`);
    throw e;
  } finally {
    loading = false;
  }
}

/**
 * An idle pooled process runs everything a cold start will run once, with a throwaway
 * handler (`handlerPath`, imported like a function's): the channel's parsing, load() itself,
 * then requests to this very server (serve/invoke, the request object, every result shape the
 * warm handler returns), and unloads again. V8 compiles a function on its first call, and on
 * a cold start that comes after idling its compiler's own code is cold too: paying that now
 * keeps it off the cold start that takes this process. Nobody else knows this process's port
 * before it is taken, and a load that arrives meanwhile waits for the rehearsal to finish.
 */
let rehearsal: Promise<void> = Promise.resolve();
async function rehearse(handlerPath: string): Promise<void> {
  if (runner || loading) throw new AlreadyLoaded();
  await load({ name: 'rehearsal', instanceId: 'rehearsal', mode: 'http', runtime: 'node', handlerPath, env: {}, cwd: process.cwd(), timeoutMs: 0, concurrency: 0 });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const host = typeof addr === 'object' && addr && addr.address !== '0.0.0.0' && addr.address !== '::' ? addr.address : '127.0.0.1';
  const agent = new http.Agent({ keepAlive: true });
  try {
    for (const [method, path, body] of REHEARSAL_REQUESTS) await selfRequest(host, port, agent, method, path, body);
  } finally {
    agent.destroy();
    runner = undefined;
    spec = undefined;
    served = 0;
    lastRequestAt = 0;
  }
}

/** Paths the warm handler answers with each result shape (see pool/warmup.ts). */
const REHEARSAL_REQUESTS: [string, string, string | undefined][] = [
  ['GET', '/text', undefined], ['POST', '/json?x=1', '{"warm":true}'], ['GET', '/shaped?x=2', undefined],
  ['POST', '/bytes', 'warm'], ['GET', '/text', undefined],
];

function selfRequest(host: string, port: number, agent: http.Agent, method: string, path: string, body: string | undefined): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({ host, port, method, path, agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.once('end', resolve);
    });
    req.once('error', () => resolve());
    req.end(body);
  });
}

/**
 * The stall monitor is armed right after the load reply is written, in the same turn of the
 * event loop (no request can run before it), so waking its worker thread is not on the
 * cold start's path.
 */
let stallLimitMs = 0;
function armAfterReply(): void {
  if (stallLimitMs > 0) stallMonitor.arm(stallLimitMs);
  stallLimitMs = 0;
}

openChannel(armAfterReply, async (req: ChannelRequest) => {
  if ('load' in req) return { loadMs: await load(req.load) };
  const done = rehearse(req.warm.handlerPath);
  rehearsal = done.catch(() => { /* reported to the pool below; a load still goes ahead */ });
  await done;
  return {};
});

function findPrlimit(): string | undefined {
  return ['/usr/bin/prlimit', '/bin/prlimit', '/usr/local/bin/prlimit'].find((p) => existsSync(p));
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const b = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
  res.end(b);
}

function maybeExit(): void {
  if (terminating && inflight === 0) setImmediate(() => process.exit(0));
}

// Orphaned (the provider was SIGKILLed and could not stop us): exit rather than linger.
const parentPid = process.ppid;
setInterval(() => { if (process.ppid !== parentPid) process.exit(0); }, 1000).unref();

process.on('SIGTERM', () => {
  draining = true;
  terminating = true;
  server.close();
  server.closeIdleConnections();
  maybeExit();
});
