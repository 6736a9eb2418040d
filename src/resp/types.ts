/** Decoded RESP2/RESP3 values. RESP3 attributes (`|`) are not represented: decoding drops them. */
export type RespValue =
  | { type: 'simple'; value: string }
  | { type: 'error'; value: string }
  | { type: 'integer'; value: number | bigint }
  | { type: 'bulk'; value: Buffer | null }
  | { type: 'array'; value: RespValue[] | null }
  | { type: 'null' }
  | { type: 'double'; value: number }
  | { type: 'boolean'; value: boolean }
  | { type: 'bignum'; value: bigint }
  | { type: 'verbatim'; format: string; value: Buffer }
  | { type: 'map'; value: Array<[RespValue, RespValue]> }
  | { type: 'set'; value: RespValue[] }
  | { type: 'push'; value: RespValue[] }
  | { type: 'bulkError'; value: string };
