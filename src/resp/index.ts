/** RESP codec: request parsing (hot path), reply framing, decoding and encoding. */
export { RespProtocolError, DEFAULT_LIMITS, resolveLimits, type ParserLimits } from './errors.js';
export { RequestParser } from './request-parser.js';
export { ReplyScanner } from './reply-scanner.js';
export { decodeReply, ReplyDecoder } from './decode.js';
export type { RespValue } from './types.js';
export {
  OK, PONG, QUEUED, NULL_BULK, NULL_ARRAY, RESP3_NULL, EMPTY_ARRAY,
  simpleString, errorReply, integerReply, bulkReply, arrayHeader, encodeCommand, encodeValue, formatDouble,
} from './encode.js';
export { splitInlineArgs } from './inline.js';
export { arrayElements } from './elements.js';
