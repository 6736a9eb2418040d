/**
 * Upstream authentication: the AUTH command pipelined first on every new backend connection,
 * and the reply target that checks its answer without forwarding it to any client.
 */
import { encodeCommand } from '../../resp/index.js';
import type { Credentials } from '../../config/redis-governance.js';
import type { ReplyTarget } from '../upstream-connection.js';

/** `AUTH [username] password` as RESP bytes (never logged). */
export function authCommand(c: Credentials): Buffer {
  const args = c.username !== undefined ? ['AUTH', c.username, c.password] : ['AUTH', c.password];
  return encodeCommand(args.map((a) => Buffer.from(a)));
}

/** `SELECT db` as RESP bytes (twemproxy's redis_db, or a client's SELECT on a dedicated connection). */
export function selectCommand(db: number): Buffer {
  return encodeCommand(['SELECT', String(db)]);
}

const SELECT_PREFIX = Buffer.from('*2\r\n$6\r\nSELECT\r\n');

/** What a refused handshake command was about, for the error text clients and logs see. */
export function handshakeSubject(cmd: Buffer): string {
  return cmd.subarray(0, SELECT_PREFIX.length).equals(SELECT_PREFIX) ? 'database selection' : 'credentials';
}

/** Receives the handshake reply: `+OK` → onOk; an error → onFail with Redis' own text (no credentials in it). */
export class HandshakeReply implements ReplyTarget {
  constructor(private readonly onOk: () => void, private readonly onFail: (why: string) => void) {}
  onReply(reply: Buffer): void {
    if (reply[0] === 45 /* - */) this.onFail(reply.toString('utf8', 1, Math.min(reply.length - 2, 200)));
    else this.onOk();
  }
}
