/**
 * Recognises the Redis Cluster error replies the proxy handles itself instead of passing
 * them to the client: MOVED and ASK redirections, TRYAGAIN (multi-key request during a slot
 * migration), CLUSTERDOWN, LOADING (a replica still syncing), and the proxy's own "backend unavailable / timed out" errors.
 */
export const enum ErrKind { Other, Moved, Ask, TryAgain, ClusterDown, Backend, Loading }

const MINUS = 45;

function startsWith(b: Buffer, s: string): boolean {
  if (b.length < s.length + 1) return false;
  for (let i = 0; i < s.length; i++) if (b[i + 1] !== s.charCodeAt(i)) return false;
  return true;
}

/** Kind of an error reply (b[0] must be '-'). */
export function classifyError(b: Buffer): ErrKind {
  if (b[0] !== MINUS) return ErrKind.Other;
  switch (b[1]) {
    case 77 /* M */: return startsWith(b, 'MOVED ') ? ErrKind.Moved : ErrKind.Other;
    case 65 /* A */: return startsWith(b, 'ASK ') ? ErrKind.Ask : ErrKind.Other;
    case 84 /* T */: return startsWith(b, 'TRYAGAIN') ? ErrKind.TryAgain : ErrKind.Other;
    case 67 /* C */: return startsWith(b, 'CLUSTERDOWN') ? ErrKind.ClusterDown : ErrKind.Other;
    case 69 /* E */: return startsWith(b, 'ERR backend ') ? ErrKind.Backend : ErrKind.Other;
    case 76 /* L */: return startsWith(b, 'LOADING') ? ErrKind.Loading : ErrKind.Other;
    default: return ErrKind.Other;
  }
}

export interface Redirect {
  slot: number;
  host: string;
  port: number;
}

/**
 * Parses `-MOVED <slot> <host>:<port>` / `-ASK ...`. An empty host (Redis 7 with an unknown
 * endpoint) means "the node that answered": `fallbackHost` is used. Null when malformed.
 */
export function parseRedirect(b: Buffer, fallbackHost: string): Redirect | null {
  const text = b.toString('latin1', 1, b.length - 2);
  const parts = text.split(' ');
  if (parts.length !== 3) return null;
  const slot = Number(parts[1]);
  const addr = parts[2];
  const colon = addr.lastIndexOf(':');
  if (!Number.isInteger(slot) || slot < 0 || slot > 16383 || colon < 0) return null;
  let host = addr.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(addr.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { slot, host: host === '' || host === '?' ? fallbackHost : host, port };
}
