/** fast-check generators for RESP values and the RESP2 down-conversion the encoder must apply. */
import fc from 'fast-check';
import { formatDouble, type RespValue } from '../../src/resp/index.js';

const line = fc.string({ maxLength: 20 }).filter((s) => !s.includes('\r') && !s.includes('\n'));
const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
  .map((b) => (b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b));

export const respValue: fc.Arbitrary<RespValue> = fc.letrec<{ v: RespValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    line.map((value): RespValue => ({ type: 'simple', value })),
    line.map((value): RespValue => ({ type: 'error', value })),
    int64.map((value): RespValue => ({ type: 'integer', value })),
    fc.option(bytes, { nil: null }).map((value): RespValue => ({ type: 'bulk', value })),
    fc.option(fc.array(tie('v'), { maxLength: 4 }), { nil: null }).map((value): RespValue => ({ type: 'array', value })),
    fc.constant<RespValue>({ type: 'null' }),
    fc.oneof(fc.double(), fc.integer().map((i) => i / 8)).map((value): RespValue => ({ type: 'double', value })),
    fc.boolean().map((value): RespValue => ({ type: 'boolean', value })),
    fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map((value): RespValue => ({ type: 'bignum', value })),
    fc.tuple(fc.constantFrom('txt', 'mkd'), bytes).map(([format, value]): RespValue => ({ type: 'verbatim', format, value })),
    fc.array(fc.tuple(tie('v'), tie('v')), { maxLength: 3 }).map((value): RespValue => ({ type: 'map', value })),
    fc.array(tie('v'), { maxLength: 4 }).map((value): RespValue => ({ type: 'set', value })),
    fc.array(tie('v'), { maxLength: 4 }).map((value): RespValue => ({ type: 'push', value })),
    fc.string({ maxLength: 20 }).map((value): RespValue => ({ type: 'bulkError', value })),
  ),
})).v;

/** What a RESP3 value looks like after encodeValue(v, 3) and decoding: nulls of any kind become `null`. */
export function asResp3(v: RespValue): RespValue {
  switch (v.type) {
    case 'bulk': return v.value === null ? { type: 'null' } : v;
    case 'array': return v.value === null ? { type: 'null' } : { type: 'array', value: v.value.map(asResp3) };
    case 'set': case 'push': return { type: v.type, value: v.value.map(asResp3) };
    case 'map': return { type: 'map', value: v.value.map(([k, x]) => [asResp3(k), asResp3(x)]) };
    default: return v;
  }
}

/** What a RESP2 client receives for v (Redis' down-conversion), as decoded. */
export function asResp2(v: RespValue): RespValue {
  const str = (s: string): RespValue => ({ type: 'bulk', value: Buffer.from(s) });
  switch (v.type) {
    case 'null': return { type: 'bulk', value: null };
    case 'double': return str(formatDouble(v.value));
    case 'boolean': return { type: 'integer', value: v.value ? 1 : 0 };
    case 'bignum': return str(v.value.toString());
    case 'verbatim': return { type: 'bulk', value: v.value };
    case 'bulkError': return { type: 'error', value: v.value.replace(/[\r\n]+/g, ' ') };
    case 'array': return v.value === null ? v : { type: 'array', value: v.value.map(asResp2) };
    case 'set': case 'push': return { type: 'array', value: v.value.map(asResp2) };
    case 'map': return { type: 'array', value: v.value.flatMap(([k, x]) => [asResp2(k), asResp2(x)]) };
    default: return v;
  }
}

/** Top-level type byte a scanner must report for an encoded value. */
export function typeByte(v: RespValue, protocol: 2 | 3): number {
  const enc = protocol === 3 ? asResp3(v) : asResp2(v);
  const map: Record<string, string> = {
    simple: '+', error: '-', integer: ':', bulk: '$', array: '*', null: '_', double: ',', boolean: '#',
    bignum: '(', verbatim: '=', map: '%', set: '~', push: '>', bulkError: '!',
  };
  if (enc.type === 'array' && enc.value === null) return 0x2a;
  return map[enc.type].charCodeAt(0);
}
