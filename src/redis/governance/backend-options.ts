/**
 * Per-backend connection extras: the upstream AUTH handshake and TLS options (governance), and
 * the commands every new connection of a static pool sends first (AUTH, then SELECT redis_db).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { BackendSpec, RedisPoolConfig } from '../../config/index.js';
import { upstreamCredentials } from '../../config/redis-governance.js';
import { authCommand, selectCommand } from '../auth/upstream-auth.js';

export function upstreamTlsOptions(pool: RedisPoolConfig): ConnectionOptions | undefined {
  const t = pool.governance?.upstreamTls;
  if (!t) return undefined;
  const o: ConnectionOptions = { rejectUnauthorized: t.verify };
  if (t.caFile) o.ca = readFileSync(t.caFile);
  if (t.certFile) o.cert = readFileSync(t.certFile);
  if (t.keyFile) o.key = readFileSync(t.keyFile);
  if (t.serverName) o.servername = t.serverName;
  else o.checkServerIdentity = () => undefined; // loopback backends are addressed by IP; the CA check still applies
  return o;
}

export function backendConnectionOptions(pool: RedisPoolConfig, spec: BackendSpec): { handshake?: Buffer; tls?: ConnectionOptions } {
  const g = pool.governance;
  if (!g) return {};
  const creds = upstreamCredentials(g, `${spec.host}:${spec.port}`, spec.name);
  const out: { handshake?: Buffer; tls?: ConnectionOptions } = {};
  if (creds) out.handshake = authCommand(creds);
  const tls = upstreamTlsOptions(pool);
  if (tls) out.tls = tls;
  return out;
}

/**
 * What a new connection to `spec` sends before any traffic, each reply checked: AUTH when
 * upstream credentials are set, then SELECT when the connection's database is not 0. `db` is
 * the pool's `redis_db` unless a client selected another database.
 */
export function backendHandshake(pool: RedisPoolConfig, spec: BackendSpec, db = pool.redisDb): Buffer[] {
  const out: Buffer[] = [];
  const auth = backendConnectionOptions(pool, spec).handshake;
  if (auth) out.push(auth);
  if (db !== 0) out.push(selectCommand(db));
  return out;
}
