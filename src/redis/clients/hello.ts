/** HELLO's answer: switches the client's protocol (2 or 3) and returns the server map in it. */
import { encodeValue, type RespValue } from '../../resp/index.js';
import { REDIS_VERSION } from '../commands/index.js';
import type { ClientSession } from '../session.js';
import { ClientState } from './client-state.js';

/** proto: the requested version (already validated as 2 or 3), or null to keep the current one. */
export function helloAnswer(s: ClientSession, proto: 2 | 3 | null): Buffer {
  if (proto === 3 || (proto === 2 && s.state !== null)) {
    if (s.state === null) s.state = new ClientState();
    s.state.proto = proto;
  }
  const cur = s.state?.proto ?? 2;
  const b = (v: string): RespValue => ({ type: 'bulk', value: Buffer.from(v) });
  const pairs: Array<[RespValue, RespValue]> = [
    [b('server'), b('redis')], [b('version'), b(REDIS_VERSION)], [b('proto'), { type: 'integer', value: cur }],
    [b('id'), { type: 'integer', value: s.id }], [b('mode'), b('standalone')], [b('role'), b('master')],
    [b('modules'), { type: 'array', value: [] }], [b('proxy'), b('trellis')],
  ];
  return encodeValue({ type: 'map', value: pairs }, cur);
}
