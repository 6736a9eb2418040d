/**
 * Commands the proxy answers itself: PING, ECHO, QUIT, SELECT 0, AUTH (no password set),
 * HELLO 2, CLIENT SETNAME/GETNAME/ID, and COMMAND (COUNT, INFO, DOCS, LIST from the table).
 */
import { bulkReply, encodeValue, integerReply, NULL_BULK, OK, PONG, type RequestParser, type RespValue } from '../resp/index.js';
import { COMMANDS, REDIS_VERSION, unknownSubcommandError, type CommandSpec } from './commands/index.js';
import { errorReply, notSupported, wrongArity } from './errors.js';
import type { ClientSession } from './session.js';

export type LocalHandler = (s: ClientSession, p: RequestParser) => void;

const bulk = (s: string | Buffer): RespValue => ({ type: 'bulk', value: typeof s === 'string' ? Buffer.from(s) : s });
const status = (s: string): RespValue => ({ type: 'simple', value: s });
const int = (n: number): RespValue => ({ type: 'integer', value: n });
const arr = (v: RespValue[]): RespValue => ({ type: 'array', value: v });

function lowerArg(p: RequestParser, i: number): string {
  return p.argString(i).toLowerCase();
}

const ping: LocalHandler = (s, p) => {
  if (p.argc === 1) s.reply(PONG);
  else if (p.argc === 2) s.reply(bulkReply(p.arg(1)));
  else s.reply(wrongArity('ping'));
};

const echo: LocalHandler = (s, p) => {
  if (p.argc !== 2) s.reply(wrongArity('echo'));
  else s.reply(bulkReply(p.arg(1)));
};

const quit: LocalHandler = (s) => {
  s.reply(OK);
  s.endAfterReplies();
};

const select: LocalHandler = (s, p) => {
  if (p.argc !== 2) return s.reply(wrongArity('select'));
  const db = p.argString(1);
  if (!/^-?\d+$/.test(db)) return s.reply(errorReply('ERR value is not an integer or out of range'));
  if (Number(db) === 0) return s.reply(OK);
  s.reply(errorReply('ERR SELECT is not supported by the proxy: only database 0 is served'));
};

const auth: LocalHandler = (s, p) => {
  if (p.argc < 2 || p.argc > 3) return s.reply(errorReply('ERR syntax error'));
  if (p.argc === 2) {
    return s.reply(errorReply('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?'));
  }
  // Like Redis' passwordless default user: any password is accepted for "default".
  if (p.argString(1) === 'default') return s.reply(OK);
  s.reply(errorReply('WRONGPASS invalid username-password pair or user is disabled.'));
};

function validClientName(name: Buffer): boolean {
  for (const c of name) if (c < 33 || c > 126) return false;
  return true;
}

const hello: LocalHandler = (s, p) => {
  let i = 1;
  if (p.argc >= 2) {
    const v = p.argString(1);
    if (!/^-?\d+$/.test(v)) return s.reply(errorReply('ERR Protocol version is not an integer or out of range'));
    const ver = Number(v);
    if (ver !== 2) return s.reply(errorReply('NOPROTO unsupported protocol version'));
    i = 2;
  }
  let name: Buffer | undefined;
  for (; i < p.argc; i++) {
    const opt = lowerArg(p, i);
    const more = p.argc - i - 1;
    if (opt === 'auth' && more >= 2) {
      if (p.argString(i + 1) !== 'default') return s.reply(errorReply('WRONGPASS invalid username-password pair or user is disabled.'));
      i += 2;
    } else if (opt === 'setname' && more >= 1) {
      name = p.arg(i + 1);
      if (!validClientName(name)) return s.reply(errorReply('ERR Client names cannot contain spaces, newlines or special characters.'));
      i += 1;
    } else {
      return s.reply(errorReply(`ERR Syntax error in HELLO option '${p.argString(i)}'`));
    }
  }
  if (name !== undefined) s.name = name.toString();
  s.reply(encodeValue(arr([
    bulk('server'), bulk('redis'), bulk('version'), bulk(REDIS_VERSION), bulk('proto'), int(2),
    bulk('id'), int(s.id), bulk('mode'), bulk('standalone'), bulk('role'), bulk('master'),
    bulk('modules'), arr([]), bulk('proxy'), bulk('trellis'),
  ]), 2));
};

const client: LocalHandler = (s, p) => {
  const sub = lowerArg(p, 1);
  if (sub === 'setname') {
    if (p.argc !== 3) return s.reply(wrongArity('client|setname'));
    const name = p.arg(2);
    if (!validClientName(name)) return s.reply(errorReply('ERR Client names cannot contain spaces, newlines or special characters.'));
    s.name = name.toString();
    return s.reply(OK);
  }
  if (sub === 'getname') {
    if (p.argc !== 2) return s.reply(wrongArity('client|getname'));
    return s.reply(s.name ? bulkReply(s.name) : NULL_BULK);
  }
  if (sub === 'id') return s.reply(p.argc === 2 ? integerReply(s.id) : wrongArity('client|id'));
  // ioredis and other clients announce themselves on connect (Redis 7.2); accepted, like Redis does.
  if (sub === 'setinfo') {
    if (p.argc !== 4) return s.reply(wrongArity('client|setinfo'));
    const attr = lowerArg(p, 2);
    if (attr !== 'lib-name' && attr !== 'lib-ver') return s.reply(errorReply(`ERR Unrecognized option '${p.argString(2)}'`));
    return s.reply(OK);
  }
  if (!COMMANDS.get('client')?.subcommands?.has(sub)) return s.reply(errorReply(unknownSubcommandError(p.argc, (i) => p.arg(i))));
  s.reply(notSupported(`CLIENT ${sub}`, '(supported: ID, INFO, LIST, KILL, UNBLOCK, SETNAME, GETNAME, SETINFO)'));
};

function commandInfo(c: CommandSpec): RespValue {
  const r = c.raw;
  return arr([
    bulk(r.name), int(r.arity), arr(r.flags.map(status)), int(r.firstKey), int(r.lastKey), int(r.step),
    arr(r.aclCategories.map(status)), arr(r.tips.map(status)), arr([]),
    arr((r.subcommands ?? []).map((sub) => commandInfo(COMMANDS.get(r.name)!.subcommands!.get(sub.name.split('|')[1])!))),
  ]);
}

function commandDocs(c: CommandSpec): RespValue[] {
  const r = c.raw;
  return [bulk(r.name), arr([
    bulk('summary'), bulk(r.summary), bulk('since'), bulk(r.since), bulk('group'), bulk(r.group),
  ])];
}

const command: LocalHandler = (s, p) => {
  if (p.argc === 1) return s.reply(encodeValue(arr([...COMMANDS.values()].map(commandInfo)), 2));
  const sub = lowerArg(p, 1);
  const names = (): string[] => Array.from({ length: p.argc - 2 }, (_, k) => lowerArg(p, k + 2));
  switch (sub) {
    case 'count':
      return s.reply(p.argc === 2 ? integerReply(COMMANDS.size) : wrongArity('command|count'));
    case 'list':
      return s.reply(encodeValue(arr([...COMMANDS.keys()].map(bulk)), 2));
    case 'info': {
      const list = p.argc === 2 ? [...COMMANDS.keys()] : names();
      return s.reply(encodeValue(arr(list.map((n) => {
        const c = COMMANDS.get(n);
        return c ? commandInfo(c) : { type: 'array', value: null } as RespValue;
      })), 2));
    }
    case 'docs': {
      const list = p.argc === 2 ? [...COMMANDS.keys()] : names();
      const out: RespValue[] = [];
      for (const n of list) { const c = COMMANDS.get(n); if (c) out.push(...commandDocs(c)); }
      return s.reply(encodeValue(arr(out), 2));
    }
    default:
      if (!COMMANDS.get('command')?.subcommands?.has(sub)) return s.reply(errorReply(unknownSubcommandError(p.argc, (i) => p.arg(i))));
      return s.reply(notSupported(`COMMAND ${sub}`, '(only COUNT, INFO, DOCS and LIST)'));
  }
};

export const LOCAL_COMMANDS: ReadonlyMap<string, LocalHandler> = new Map([
  ['ping', ping], ['echo', echo], ['quit', quit], ['select', select], ['auth', auth],
  ['hello', hello], ['client', client], ['command', command],
]);
