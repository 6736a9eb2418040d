/**
 * Error replies the proxy itself produces. Where Redis would answer, the text is Redis' own
 * (clients match on it); proxy-specific conditions name the backend or the limitation.
 */
import { errorReply } from '../resp/index.js';

export { errorReply };

export function backendError(label: string, what: string): Buffer {
  return errorReply(`ERR backend ${label} ${what}`);
}

export function wrongArity(fullName: string): Buffer {
  return errorReply(`ERR wrong number of arguments for '${fullName}' command`);
}

export const CROSSSHARD = errorReply("CROSSSHARD Keys in request don't hash to the same shard");

export function notSupported(name: string, why: string): Buffer {
  return errorReply(`ERR ${name.toUpperCase()} is not supported by the proxy${why ? ` ${why}` : ''}`);
}

