/**
 * The function gateway (OpenFaaS-compatible): one listening socket; /function/* requests
 * take the lean forwarding path (fast-path.ts), everything else is handed to a node:http
 * server running the management API (api.ts).
 */
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { createActivator } from '../activator/index.js';
import { autoscalerConfig, type AutoscalerConfig } from '../autoscaler/index.js';
import type { Activator } from '../activator/types.js';
import type { FunctionRecord } from '../types.js';
import type { RuntimeProvider } from '../runtime/provider.js';
import { openSqliteStore, type FunctionStore } from '../store/index.js';
import { parseHostPort } from '../../util/net.js';
import { createApiHandler, type ExtraRoute, type RouteHandler } from './api.js';
import { basicAuthOk, ADMIN_USER, loadAdminPassword } from './auth.js';
import { createDirectActivator } from './direct-activator.js';
import { ClientConnection, type FastPathContext } from './fast-path.js';
import { FunctionRegistry } from './functions.js';
import { forwardViaHttp, invokeBuffered, type InvokeRequest, type InvokeResponse, type Outcome, type SlowPathContext } from './invoke.js';
import { createGatewayMetrics } from './metrics.js';
import { UpstreamPool } from './upstream-pool.js';

export interface ProviderDeps {
  store: FunctionStore;
  /** <dataDir>/bundles: bundles by id (<bundlesDir>/<sha256>/). */
  bundlesDir: string;
  dataDir: string;
  /** Value of a stored secret (for mounting as files). */
  secret(name: string): string | undefined;
}

export interface ActivatorDeps {
  provider: RuntimeProvider;
  functions: (name: string) => FunctionRecord | undefined;
  listFunctions: () => string[];
  /** The gateway's /metrics registry. */
  registry: Registry;
  /** The platform's autoscaler settings (GatewayOptions.autoscaler over Knative's defaults). */
  autoscaler: AutoscalerConfig;
  log: (line: string) => void;
}

export interface GatewayOptions {
  /** "host:port" (default 127.0.0.1:8080); port 0 picks a free one. */
  listen?: string;
  dataDir: string;
  /** A provider, or a factory given the store (for secrets) and the bundles directory. */
  provider: RuntimeProvider | ((deps: ProviderDeps) => RuntimeProvider);
  /**
   * Defaults to the Trellis activator (src/faas/activator: hold queue, breaker, KPA
   * autoscaling incl. scale to zero); `'direct'` = plain round-robin over ready instances.
   */
  activator?: Activator | 'direct' | ((deps: ActivatorDeps) => Activator);
  /**
   * Platform autoscaler settings (Knative's config-autoscaler): used by the activator and for
   * the instances a deployment starts with (initial-scale, min-scale). Invalid → throws.
   */
  autoscaler?: Partial<AutoscalerConfig>;
  /** Overrides TRELLIS_ADMIN_PASSWORD and the stored password. */
  adminPassword?: string;
  auth?: { invoke?: boolean };
  version?: string;
  log?: (line: string) => void;
  /** Keep-alive connections idle longer than this are closed (default 75 s). */
  idleTimeoutMs?: number;
  /** A request head must arrive within this (default 30 s; slowloris guard). */
  headTimeoutMs?: number;
}

export interface Gateway {
  address(): { host: string; port: number };
  url(): string;
  readonly adminPassword: string;
  /** Where the admin password is kept: its file, or a note that it was given (env or option). */
  readonly adminPasswordSource: string;
  readonly provider: RuntimeProvider;
  readonly activator: Activator;
  readonly registry: FunctionRegistry;
  readonly store: FunctionStore;
  /** The Prometheus registry GET /metrics serves (extra metrics, e.g. queue_worker_*, can register here). */
  readonly metricsRegistry: Registry;
  /** Mounts extra routes (e.g. the queue's /async-function/ and /system/async...); /system/* stays behind basic auth. */
  addRoute(method: string, pathPrefix: string, handler: RouteHandler): void;
  /** Invokes a function through the activator (scale from zero applies), body buffered. */
  invoke(name: string, req: InvokeRequest): Promise<InvokeResponse>;
  /** As invoke, with the response body as a stream (consume or destroy it). */
  invokeStream(name: string, req: InvokeRequest): Promise<Outcome>;
  close(): Promise<void>;
}

export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const dataDir = opts.dataDir;
  const bundlesDir = join(dataDir, 'bundles');
  const tmpDir = join(dataDir, 'tmp');
  mkdirSync(bundlesDir, { recursive: true, mode: 0o700 });
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const pw = loadAdminPassword(dataDir, opts.adminPassword);
  if (pw.generated) {
    log(`trellis gateway: generated admin password for user "${ADMIN_USER}": ${pw.password}\n` +
      `  (saved to ${pw.file}, mode 0600; set TRELLIS_ADMIN_PASSWORD to choose your own)`);
  }
  const scaling = autoscalerConfig(opts.autoscaler);
  const store = openSqliteStore(dataDir);
  const ownsProvider = typeof opts.provider === 'function';
  const provider = typeof opts.provider === 'function'
    ? opts.provider({ store, bundlesDir, dataDir, secret: (n) => store.getSecret(n)?.value })
    : opts.provider;
  let registry: FunctionRegistry | null = null;
  const metrics = createGatewayMetrics(
    (name) => registry?.record(name)?.replicas ?? 0,
    () => registry?.names() ?? [],
  );
  registry = new FunctionRegistry(store, provider, metrics, bundlesDir, scaling);
  const reg = registry;
  const activatorDeps: ActivatorDeps = {
    provider, functions: (n) => reg.record(n), listFunctions: () => reg.names(), registry: metrics.registry, autoscaler: scaling, log,
  };
  const ownsActivator = typeof opts.activator !== 'object';
  const activator = opts.activator === 'direct' ? createDirectActivator(provider)
    : opts.activator === undefined ? createActivator(activatorDeps)
    : typeof opts.activator === 'function' ? opts.activator(activatorDeps) : opts.activator;

  const pool = new UpstreamPool();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const slow: SlowPathContext = { lookup: (n) => reg.lookup(n), activator, agent };
  const extraRoutes: ExtraRoute[] = [];
  const invokeAuth = opts.auth?.invoke === true;

  const api = http.createServer({ keepAliveTimeout: 65_000 }, createApiHandler({
    registry: reg, store, provider, metrics, slow, adminPassword: pw.password, invokeAuth,
    bundlesDir, tmpDir, extraRoutes, version: opts.version ?? '0.0.0', log,
  }));
  api.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  const sockets = new Set<net.Socket>();
  const conns = new Set<ClientConnection>();
  const fast: FastPathContext = {
    lookup: (n) => reg.lookup(n),
    activator,
    pool,
    invokeAuth: invokeAuth ? (h) => basicAuthOk(h, ADMIN_USER, pw.password) : null,
    handOff(socket, buffered) {
      socket.unshift(buffered);
      api.emit('connection', socket);
      socket.resume();
    },
  };
  // Exchanges past their function's timeout get a 504 (checked every 100 ms: no timer per request).
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const c of conns) if (c.deadline <= now) c.timedOut();
  }, 100);
  sweep.unref();
  const idleMs = opts.idleTimeoutMs ?? 75_000;
  const headMs = opts.headTimeoutMs ?? 30_000;
  const idleSweep = setInterval(() => {
    const now = performance.now();
    for (const c of conns) c.checkIdle(now, idleMs, headMs);
  }, Math.min(1000, idleMs, headMs));
  idleSweep.unref();

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    sockets.add(sock);
    const conn = new ClientConnection(sock, fast);
    conns.add(conn);
    sock.on('close', () => { sockets.delete(sock); conns.delete(conn); });
  });

  const unsubscribe = provider.on((e) => {
    if (e.type === 'instance-gone') pool.dropInstance(e.instance.host, e.instance.port);
    // Connect while the instance loads its function: the held request then finds an accepted
    // connection instead of paying connect + accept on the cold start's critical path.
    else if (e.type === 'instance-starting') pool.preconnect(e.instance.host, e.instance.port);
  });

  await reg.restore((name, err) => log(`trellis gateway: redeploying "${name}" failed: ${err.message}`));

  try {
    const { host, port } = parseListen(opts.listen ?? '127.0.0.1:8080');
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${host}:${port}: ${err.code ?? err.message}`)));
      server.listen(port, host, () => resolve());
    });
  } catch (err) {
    clearInterval(sweep);
    clearInterval(idleSweep);
    unsubscribe();
    agent.destroy();
    if (ownsActivator) await activator.close();
    if (ownsProvider) await provider.close();
    store.close();
    throw err;
  }

  const address = () => {
    const a = server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  };
  let closed = false;
  return {
    address,
    url: () => { const a = address(); return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`; },
    adminPassword: pw.password,
    adminPasswordSource: pw.file ? `in ${pw.file}` : opts.adminPassword ? 'as configured' : 'from TRELLIS_ADMIN_PASSWORD',
    provider, activator, registry: reg, store, metricsRegistry: metrics.registry,
    addRoute(method, pathPrefix, handler) { extraRoutes.push({ method: method.toUpperCase(), prefix: pathPrefix, handler }); },
    invoke: (name, req) => invokeBuffered(slow, name, req),
    invokeStream: (name, req) => forwardViaHttp(slow, name, req),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      clearInterval(idleSweep);
      unsubscribe();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      api.closeAllConnections();
      pool.close();
      agent.destroy();
      if (ownsActivator) await activator.close();
      if (ownsProvider) await provider.close();
      store.close();
    },
  };
}

/** host:port where port 0 means "any free port" (tests). */
function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):0$/.exec(s.trim());
  if (m) return { host: m[1] ?? (m[2] || '127.0.0.1'), port: 0 };
  return parseHostPort(s);
}

export { type InvokeRequest, type InvokeResponse, type Outcome } from './invoke.js';
export { type RouteHandler } from './api.js';
export { FunctionRegistry, NAMESPACE } from './functions.js';
export {
  gatewaySectionSchema, gatewaySectionShape, gatewaySettings, parseGatewaySection, GatewayConfigError,
  type GatewaySection, type GatewaySettings,
} from './config.js';
export { ADMIN_USER, PASSWORD_FILE } from './auth.js';
export { deploymentSchema, NAME_RE, DEFAULT_TIMEOUT_MS } from './validation.js';
