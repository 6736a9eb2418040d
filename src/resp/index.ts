/**
 * RESP codec: request parsing (hot path), reply framing, decoding and encoding.
 *
 * Proxy hot path:
 *   parser.feed(chunk); while (parser.parseNext()) { parser.commandName(), parser.argc,
 *     parser.buffer[argStart[i], argEnd[i]) ... forward parser.buffer[rawStart, rawEnd) }
 *   scanner.feed(chunk); while (scanner.scan()) { scanner.buffer[frameStart, frameEnd), scanner.lastType }
 * (raw()/arg(i)/nextFrame() return the same bytes as subarrays, ~60 ns each.)
 * On RespProtocolError: reply errorReply(`ERR ${err.message}`) and close that client; the
 * request parser stays failed (rethrows) after an error.
 */
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
