/**
 * The management API (OpenFaaS' /system/* routes, /healthz, /metrics) and the general
 * /function/* path, on node:http: this side favours clarity, the fast path lives in
 * fast-path.ts. Every /system/* route (also ones added by other components) needs basic auth.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeProvider } from '../runtime/provider.js';
import type { FunctionStore } from '../store/index.js';
import { ADMIN_USER, basicAuthOk } from './auth.js';
import { handleBuild, handleBundleUpload } from './bundles.js';
import { ConflictError, FunctionRegistry, NAMESPACE, NotFoundError } from './functions.js';
import { HttpError, readJson, sendJson, sendText } from './http-util.js';
import { forwardViaHttp, type SlowPathContext } from './invoke.js';
import type { GatewayMetrics } from './metrics.js';
import { scrapeWithProcessMetrics } from '../../mesh/index.js';
import {
  NAME_RE, ValidationError, deleteSchema, parseOrThrow, scaleSchema, secretDeleteSchema, secretSchema,
} from './validation.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;
export interface ExtraRoute { method: string; prefix: string; handler: RouteHandler }

export interface ApiContext {
  registry: FunctionRegistry;
  store: FunctionStore;
  provider: RuntimeProvider;
  metrics: GatewayMetrics;
  slow: SlowPathContext;
  adminPassword: string;
  invokeAuth: boolean;
  bundlesDir: string;
  tmpDir: string;
  extraRoutes: ExtraRoute[];
  version: string;
  log: (line: string) => void;
}

export function createApiHandler(ctx: ApiContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(ctx, req, res).catch((err: unknown) => {
      if (err instanceof HttpError) { sendText(res, err.status, err.message, err.headers); return; }
      if (err instanceof ValidationError) { sendText(res, 400, err.message); return; }
      if (err instanceof NotFoundError) { sendText(res, 404, err.message); return; }
      if (err instanceof ConflictError) { sendText(res, 409, err.message); return; }
      ctx.log(`gateway: ${req.method} ${req.url} failed: ${(err as Error)?.stack ?? String(err)}`);
      sendText(res, 500, `internal error: ${(err as Error)?.message ?? String(err)}`);
    });
  };
}

const authHeaders = { 'www-authenticate': 'Basic realm="trellis"' };

async function handle(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://gateway');
  const path = url.pathname;
  const method = req.method ?? 'GET';

  if (path.startsWith('/system/') && !basicAuthOk(req.headers.authorization, ADMIN_USER, ctx.adminPassword)) {
    throw new HttpError(401, 'unauthorized: /system/* needs basic auth (user admin)', authHeaders);
  }
  for (const r of ctx.extraRoutes) {
    if ((r.method === '*' || r.method === method) && path.startsWith(r.prefix)) {
      if (!path.startsWith('/system/') && ctx.invokeAuth && !basicAuthOk(req.headers.authorization, ADMIN_USER, ctx.adminPassword)) {
        throw new HttpError(401, 'invocation requires authentication', authHeaders);
      }
      await r.handler(req, res, url);
      return;
    }
  }
  if (path.startsWith('/function/')) { await invokeRoute(ctx, req, res, url); return; }

  const route = `${method} ${path}`;
  switch (route) {
    case 'GET /healthz': sendText(res, 200, 'OK'); return;
    case 'GET /metrics': {
      const body = await scrapeWithProcessMetrics(ctx.metrics.registry);
      res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType });
      res.end(body);
      return;
    }
    case 'GET /system/functions': sendJson(res, 200, ctx.registry.list()); return;
    case 'POST /system/functions': await deploy(ctx, req, res, false); return;
    case 'PUT /system/functions': await deploy(ctx, req, res, true); return;
    case 'DELETE /system/functions': {
      const { functionName } = parseOrThrow(deleteSchema, await readJson(req), 'delete request');
      await ctx.registry.remove(functionName);
      res.writeHead(200).end();
      return;
    }
    case 'GET /system/info':
      sendJson(res, 200, {
        provider: { provider: 'trellis', orchestration: 'process', version: { release: ctx.version, sha: '' } },
        version: { release: ctx.version, sha: '', commit_message: '' },
        arch: process.arch,
      });
      return;
    case 'GET /system/logs': await logs(ctx, req, res, url); return;
    case 'GET /system/secrets': sendJson(res, 200, ctx.store.listSecrets().map((s) => ({ name: s.name, namespace: NAMESPACE }))); return;
    case 'POST /system/secrets': case 'PUT /system/secrets': {
      const s = parseOrThrow(secretSchema, await readJson(req), 'secret');
      const value = s.value ?? (s.rawValue !== undefined ? Buffer.from(s.rawValue, 'base64').toString('utf8') : undefined);
      if (value === undefined) throw new ValidationError('invalid secret: value: required');
      const exists = ctx.store.getSecret(s.name) !== undefined;
      if (method === 'POST' && exists) throw new ConflictError(`secret "${s.name}" already exists; use PUT to update it`);
      if (method === 'PUT' && !exists) throw new NotFoundError(`secret "${s.name}" not found`);
      ctx.store.putSecret(s.name, value);
      res.writeHead(method === 'POST' ? 201 : 200).end();
      return;
    }
    case 'DELETE /system/secrets': {
      const { name } = parseOrThrow(secretDeleteSchema, await readJson(req), 'secret');
      if (!ctx.store.deleteSecret(name)) throw new NotFoundError(`secret "${name}" not found`);
      res.writeHead(200).end();
      return;
    }
    case 'POST /system/bundles': await handleBundleUpload(ctx.bundlesDir, req, res); return;
    case 'POST /system/builds': {
      const name = url.searchParams.get('name');
      if (name !== null && (name.length > 63 || !NAME_RE.test(name))) throw new ValidationError('invalid build: name: must be a DNS-1123 label');
      await handleBuild(ctx.bundlesDir, ctx.tmpDir, url, req, res);
      return;
    }
  }
  const fnMatch = /^\/system\/function\/([^/]+)$/.exec(path);
  if (fnMatch && method === 'GET') {
    const status = ctx.registry.status(fnMatch[1]);
    if (!status) throw new NotFoundError(`function "${fnMatch[1]}" not found`);
    sendJson(res, 200, status);
    return;
  }
  const scaleMatch = /^\/system\/scale-function\/([^/]+)$/.exec(path);
  if (scaleMatch && method === 'POST') {
    const body = parseOrThrow(scaleSchema, await readJson(req), 'scale request');
    if (body.serviceName && body.serviceName !== scaleMatch[1]) {
      throw new ValidationError(`invalid scale request: serviceName: "${body.serviceName}" does not match the path's "${scaleMatch[1]}"`);
    }
    await ctx.registry.scale(scaleMatch[1], body.replicas);
    res.writeHead(202).end();
    return;
  }
  const known = ['/system/functions', '/system/info', '/system/logs', '/system/secrets', '/system/bundles', '/system/builds', '/healthz', '/metrics'];
  if (known.includes(path) || fnMatch || scaleMatch) throw new HttpError(405, `method ${method} not allowed on ${path}`);
  throw new HttpError(404, `no route for ${method} ${path}`);
}

async function deploy(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, update: boolean): Promise<void> {
  const body = await readJson(req);
  try {
    await ctx.registry.deploy(body, update);
  } catch (err) {
    if (err instanceof ValidationError || err instanceof NotFoundError || err instanceof ConflictError) throw err;
    throw new HttpError(500, `deploy failed: ${(err as Error).message}`);
  }
  res.writeHead(update ? 200 : 202).end();
}

async function logs(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const name = url.searchParams.get('name');
  if (!name) throw new ValidationError('invalid logs request: name: required');
  if (!ctx.registry.record(name)) throw new NotFoundError(`function "${name}" not found`);
  const tailRaw = url.searchParams.get('tail');
  const tail = tailRaw === null || tailRaw === '' || tailRaw === '-1' ? undefined : Number(tailRaw);
  if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) throw new ValidationError('invalid logs request: tail: must be a whole number');
  const sinceRaw = url.searchParams.get('since');
  let since: Date | undefined;
  if (sinceRaw) {
    since = new Date(sinceRaw);
    if (Number.isNaN(since.getTime())) throw new ValidationError('invalid logs request: since: must be an RFC 3339 timestamp');
  }
  const follow = ['true', '1', 'yes'].includes(url.searchParams.get('follow') ?? '');
  const instance = url.searchParams.get('instance');
  const line = (l: { name: string; instance: string; timestamp: string; text: string }) =>
    JSON.stringify({ name: l.name, namespace: NAMESPACE, instance: l.instance, timestamp: l.timestamp, text: l.text }) + '\n';
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  for (const l of ctx.provider.logs(name, { tail, since })) if (!instance || l.instance === instance) res.write(line(l));
  if (!follow) { res.end(); return; }
  res.flushHeaders();
  const stop = ctx.provider.followLogs(name, (l) => { if (!instance || l.instance === instance) res.write(line(l)); });
  await new Promise<void>((resolve) => { req.on('close', resolve); res.on('close', resolve); });
  stop();
}

async function invokeRoute(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (ctx.invokeAuth && !basicAuthOk(req.headers.authorization, ADMIN_USER, ctx.adminPassword)) {
    throw new HttpError(401, 'invocation requires authentication', authHeaders);
  }
  const raw = req.url ?? '/';
  const rest = raw.slice('/function/'.length);
  const cut = rest.search(/[/?]/);
  const name = cut < 0 ? rest : rest.slice(0, cut);
  const sub = cut < 0 ? '/' : rest[cut] === '?' ? '/' : rest.slice(cut).split('?')[0];
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  // A client that closes (or sends EOF) while the activator holds the request is dropped from
  // the queue, as on the fast path.
  const gone = new AbortController();
  const abort = () => gone.abort();
  res.once('close', abort);
  req.socket.once('end', abort);
  let outcome;
  try {
    outcome = await forwardViaHttp(ctx.slow, name, {
      method: req.method, path: sub, query: url.search, headers: req.headers, body: hasBody ? req : undefined, signal: gone.signal,
    }, req.socket.remoteAddress ?? '');
  } finally {
    res.removeListener('close', abort);
    req.socket.removeListener('end', abort);
  }
  res.writeHead(outcome.status, outcome.headers);
  if (typeof outcome.body === 'string') { res.end(outcome.body); if (hasBody) req.resume(); return; }
  const body = outcome.body;
  body.on('error', () => res.destroy());
  res.on('close', () => { if (!body.readableEnded) body.destroy(); });
  body.pipe(res);
}
