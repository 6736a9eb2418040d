/**
 * Basic auth for /system/* (OpenFaaS CE style): user `admin`, password from
 * TRELLIS_ADMIN_PASSWORD, else generated once and kept (mode 0600) in the data directory.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_USER = 'admin';
export const PASSWORD_FILE = 'admin-password';

export interface AdminPassword { password: string; generated: boolean; file?: string }

/** Explicit password > TRELLIS_ADMIN_PASSWORD > <dataDir>/admin-password > a new generated one. */
export function loadAdminPassword(dataDir: string, explicit?: string): AdminPassword {
  const given = explicit ?? process.env.TRELLIS_ADMIN_PASSWORD;
  if (given) return { password: given, generated: false };
  const file = join(dataDir, PASSWORD_FILE);
  if (existsSync(file)) {
    const password = readFileSync(file, 'utf8').trim();
    if (password) { chmodSync(file, 0o600); return { password, generated: false, file }; }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, password + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { password, generated: true, file };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Checks an Authorization header value against user/password (constant time). */
export function basicAuthOk(header: string | undefined, user: string, password: string): boolean {
  if (!header || !/^basic /i.test(header)) return false;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const userOk = timingSafeEqual(digest(decoded.slice(0, colon)), digest(user));
  const passOk = timingSafeEqual(digest(decoded.slice(colon + 1)), digest(password));
  return userOk && passOk;
}
