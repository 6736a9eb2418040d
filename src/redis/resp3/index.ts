/** RESP3 replies for HELLO 3 clients from RESP2 upstream replies. */
export { resp3Converter, type Converter } from './convert.js';
