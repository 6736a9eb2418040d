/**
 * Downstream users: `AUTH password` (user "default"), `AUTH username password` and
 * `HELLO <ver> AUTH username password`, checked in constant time against SHA-256 digests.
 * Permissions per user (predixy-style): read-only, and allowed key prefixes.
 * Error texts are Redis' own, so clients react as they would to Redis.
 */
import { timingSafeEqual } from 'node:crypto';
import { errorReply } from '../../resp/index.js';
import { sha256, type DownstreamUser } from '../../config/redis-governance.js';

export const NOAUTH = errorReply('NOAUTH Authentication required.');
export const WRONGPASS = errorReply('WRONGPASS invalid username-password pair or user is disabled.');
export const HELLO_NOAUTH = errorReply('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
export const NOPERM_KEYS = errorReply('NOPERM this user has no permissions to access one of the keys used as arguments');

export function nopermCommand(user: string, command: string): Buffer {
  return errorReply(`NOPERM User ${user} has no permissions to run the '${command}' command`);
}

export class Authenticator {
  constructor(private readonly users: readonly DownstreamUser[]) {}

  /** The user these credentials authenticate, or null. Every candidate is compared (no early exit). */
  check(username: string, password: Buffer): DownstreamUser | null {
    const digest = sha256(password);
    let found: DownstreamUser | null = null;
    for (const u of this.users) {
      const same = timingSafeEqual(u.passwordSha256, digest);
      if (same && u.username === username && found === null) found = u;
    }
    return found;
  }
}

/** True when every key starts with one of the prefixes. */
export function keysAllowed(prefixes: readonly Buffer[], buf: Buffer, starts: Int32Array, ends: Int32Array, keys: readonly number[]): boolean {
  for (const k of keys) {
    const s = starts[k];
    const len = ends[k] - s;
    let ok = false;
    for (const p of prefixes) {
      if (p.length <= len && buf.compare(p, 0, p.length, s, s + p.length) === 0) { ok = true; break; }
    }
    if (!ok) return false;
  }
  return true;
}
