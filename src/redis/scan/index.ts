/** SCAN across shards with cursors that encode the shard and its own cursor. */
export { scan, decodeCursor, encodeCursor } from './scan.js';
