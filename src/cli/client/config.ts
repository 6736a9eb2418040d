/**
 * Where `trellis` keeps its client state: credentials per gateway, written by `trellis login`
 * with mode 0600. Directory: $TRELLIS_CONFIG_DIR, else $XDG_CONFIG_HOME/trellis, else ~/.trellis.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_GATEWAY = 'http://127.0.0.1:8080';

export interface Credentials { username: string; password: string }
interface CredentialsFile { gateways: Record<string, Credentials> }

export function configDir(): string {
  if (process.env.TRELLIS_CONFIG_DIR) return process.env.TRELLIS_CONFIG_DIR;
  if (process.env.XDG_CONFIG_HOME) return join(process.env.XDG_CONFIG_HOME, 'trellis');
  return join(homedir(), '.trellis');
}

export function credentialsFile(): string { return join(configDir(), 'credentials.json'); }

/** "127.0.0.1:8080/" → "http://127.0.0.1:8080" (the key credentials are stored under). */
export function normaliseGatewayUrl(raw: string): string {
  let s = raw.trim();
  if (!/^https?:\/\//i.test(s)) s = `http://${s}`;
  let u: URL;
  try { u = new URL(s); } catch { throw new Error(`invalid gateway URL "${raw}"`); }
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** --gateway flag, then TRELLIS_GATEWAY (or OPENFAAS_URL), then the stack file's, then the default. */
export function resolveGateway(flag?: string, fromStack?: string): string {
  return normaliseGatewayUrl(flag ?? process.env.TRELLIS_GATEWAY ?? process.env.OPENFAAS_URL ?? fromStack ?? DEFAULT_GATEWAY);
}

function readAll(): CredentialsFile {
  const f = credentialsFile();
  if (!existsSync(f)) return { gateways: {} };
  try {
    const parsed = JSON.parse(readFileSync(f, 'utf8')) as Partial<CredentialsFile>;
    return { gateways: parsed.gateways ?? {} };
  } catch {
    throw new Error(`${f} is not valid JSON; remove it and run "trellis login" again`);
  }
}

export function saveCredentials(gateway: string, creds: Credentials): string {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const all = readAll();
  all.gateways[normaliseGatewayUrl(gateway)] = creds;
  const f = credentialsFile();
  writeFileSync(f, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
  chmodSync(f, 0o600);
  return f;
}

/** TRELLIS_PASSWORD (user admin), else what `trellis login` stored, else TRELLIS_ADMIN_PASSWORD. */
export function loadCredentials(gateway: string): Credentials | undefined {
  if (process.env.TRELLIS_PASSWORD) return { username: process.env.TRELLIS_USERNAME ?? 'admin', password: process.env.TRELLIS_PASSWORD };
  const stored = readAll().gateways[normaliseGatewayUrl(gateway)];
  if (stored) return stored;
  if (process.env.TRELLIS_ADMIN_PASSWORD) return { username: 'admin', password: process.env.TRELLIS_ADMIN_PASSWORD };
  return undefined;
}
