/**
 * CLIENT ID / INFO / LIST / KILL / UNBLOCK for the proxy's own clients (other subcommands go to
 * the proxy's basic CLIENT handler: SETNAME, GETNAME, ...).
 */
import { bulkReply, integerReply, OK, type RequestParser } from '../../resp/index.js';
import { errorReply, wrongArity } from '../errors.js';
import type { ClientSession } from '../session.js';
import type { BlockingCommands } from '../blocking/blocking.js';
import { ClientRegistry, type ClientFilter } from './client-registry.js';

const SYNTAX = errorReply('ERR syntax error');
const NO_SUCH_CLIENT = errorReply('ERR No such client');

export type Fallback = (s: ClientSession, p: RequestParser) => void;

export function clientCommand(reg: ClientRegistry, blocking: BlockingCommands, fallback: Fallback) {
  return (s: ClientSession, p: RequestParser): void => {
    const sub = p.argString(1).toLowerCase();
    const now = Date.now();
    switch (sub) {
      case 'id': return s.reply(p.argc === 2 ? integerReply(s.id) : wrongArity('client|id'));
      case 'info': return s.reply(p.argc === 2 ? bulkReply(reg.line(s, now) + '\n') : wrongArity('client|info'));
      case 'list': return list(reg, s, p, now);
      case 'kill': return kill(reg, s, p, now);
      case 'unblock': {
        if (p.argc < 3 || p.argc > 4) return s.reply(wrongArity('client|unblock'));
        const id = Number(p.argString(2));
        if (!Number.isSafeInteger(id)) return s.reply(errorReply('ERR value is not an integer or out of range'));
        const mode = p.argc === 4 ? p.argString(3).toUpperCase() : 'TIMEOUT';
        if (mode !== 'TIMEOUT' && mode !== 'ERROR') return s.reply(errorReply('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR'));
        return blocking.unblock(s, reg.get(id), mode);
      }
      default: return fallback(s, p);
    }
  };
}

function list(reg: ClientRegistry, s: ClientSession, p: RequestParser, now: number): void {
  let clients = reg.all();
  for (let i = 2; i < p.argc; i++) {
    const opt = p.argString(i).toLowerCase();
    if (opt === 'type' && i + 1 < p.argc) {
      const t = p.argString(++i).toLowerCase();
      if (!['normal', 'pubsub', 'master', 'replica', 'slave'].includes(t)) return s.reply(errorReply(`ERR Unknown client type '${p.argString(i)}'`));
      clients = clients.filter((c) => ClientRegistry.type(c) === t);
    } else if (opt === 'id' && i + 1 < p.argc) {
      const ids: number[] = [];
      while (i + 1 < p.argc) {
        const n = Number(p.argString(++i));
        if (!Number.isSafeInteger(n) || n <= 0) return s.reply(errorReply('ERR Invalid client ID'));
        ids.push(n);
      }
      clients = clients.filter((c) => ids.includes(c.id));
    } else return s.reply(SYNTAX);
  }
  s.reply(bulkReply(clients.map((c) => reg.line(c, now) + '\n').join('')));
}

function kill(reg: ClientRegistry, s: ClientSession, p: RequestParser, now: number): void {
  if (p.argc === 3) { // old form: CLIENT KILL addr:port
    const addr = p.argString(2);
    const victim = reg.all().find((c) => ClientRegistry.addr(c) === addr);
    if (victim === undefined) return s.reply(NO_SUCH_CLIENT);
    s.reply(OK);
    return close(victim, s);
  }
  if (p.argc % 2 !== 0) return s.reply(SYNTAX);
  const f: ClientFilter = {};
  for (let i = 2; i < p.argc; i += 2) {
    const opt = p.argString(i).toLowerCase();
    const v = p.argString(i + 1);
    if (opt === 'id') {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n <= 0) return s.reply(errorReply('ERR client-id should be greater than 0'));
      (f.id ??= []).push(n);
    } else if (opt === 'addr') f.addr = v;
    else if (opt === 'laddr') f.laddr = v;
    else if (opt === 'user') f.user = v;
    else if (opt === 'type') {
      const t = v.toLowerCase();
      if (!['normal', 'pubsub', 'master', 'replica', 'slave'].includes(t)) return s.reply(errorReply(`ERR Unknown client type '${v}'`));
      f.type = t;
    } else if (opt === 'skipme') {
      const y = v.toLowerCase();
      if (y !== 'yes' && y !== 'no') return s.reply(SYNTAX);
      f.skipme = y === 'yes';
    } else if (opt === 'maxage') {
      const n = Number(v);
      if (!Number.isSafeInteger(n)) return s.reply(errorReply('ERR value is not an integer or out of range'));
      f.maxage = n;
    } else return s.reply(SYNTAX);
  }
  const victims = reg.all().filter((c) => reg.matches(c, f, s, now));
  s.reply(integerReply(victims.length));
  for (const v of victims) close(v, s);
}

/** Closes a client; the caller itself is closed after its reply is written (like Redis). */
function close(victim: ClientSession, self: ClientSession): void {
  if (victim === self) self.endAfterReplies();
  else victim.socket.destroy();
}
