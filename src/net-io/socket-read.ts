/**
 * Socket reads without the Readable-stream machinery: Node's `onread` mode reads into a
 * caller-supplied buffer and calls back directly (no per-read ArrayBuffer, no push/'data'
 * emit/nextTick). All sockets share one static read buffer (reads are synchronous and one at
 * a time), so each chunk is copied out (from the transient slabs) before it is handed on:
 * parsers keep subarrays of it. pause()/resume() still work (Node stops/starts the handle).
 */
import net from 'node:net';
import { streamBinding } from './stream-binding.js';
import { transientBuffer } from './transient-buffers.js';

const READ_SIZE = 64 * 1024;
const readBuffer = Buffer.allocUnsafeSlow(READ_SIZE);

export type ChunkHandler = (chunk: Buffer) => void;

function copyOut(n: number): Buffer {
  const c = transientBuffer(n);
  if (n <= 64) for (let i = 0; i < n; i++) c[i] = readBuffer[i];
  else readBuffer.copy(c, 0, 0, n);
  return c;
}

/** The `onread` option for net.connect(). */
export function onreadOption(onChunk: ChunkHandler): net.OnReadOpts {
  return { buffer: readBuffer, callback: (n: number) => { onChunk(copyOut(n)); return true; } };
}

/**
 * For a socket connected with onreadOption(): data reads go straight to onChunk (see
 * shortcutOnread). Call right after net.connect().
 */
export function readConnectedInto(sock: net.Socket, onChunk: ChunkHandler): void {
  shortcutOnread(sock, onChunk);
}

/**
 * Node calls the handle's onread for every read; its generic version looks the stream up,
 * refreshes socket timeouts (we set none on these sockets) and only then calls the
 * user-buffer callback. Data goes to onChunk directly here; EOF and errors still take Node's
 * own path, so the stream ends and closes as usual.
 */
function shortcutOnread(sock: net.Socket, onChunk: ChunkHandler): void {
  const b = streamBinding;
  const h = (sock as unknown as { _handle?: { onread?: unknown } | null })._handle;
  if (b === null || h == null || typeof h.onread !== 'function') return;
  const generic = h.onread as (this: unknown, ab: ArrayBuffer | undefined) => unknown;
  const state = b.streamBaseState;
  const at = b.kReadBytesOrError;
  h.onread = function onread(this: unknown, ab: ArrayBuffer | undefined): unknown {
    const n = state[at];
    if (n > 0) { onChunk(copyOut(n)); return undefined; }
    return generic.call(this, ab);
  };
}

/**
 * Switches an accepted plain-TCP socket to onread mode (Node offers the option only to
 * net.connect and new Socket, not to server-accepted sockets; the slots it uses are found by
 * their symbol names). Returns false, changing nothing, where that is not possible (TLS,
 * another Node version): use 'data' events then.
 */
export function readAcceptedInto(sock: net.Socket, onChunk: ChunkHandler): boolean {
  const handle = (sock as unknown as { _handle?: { useUserBuffer?: (b: Buffer) => void } })._handle;
  if (!(sock instanceof net.Socket) || (sock as { encrypted?: boolean }).encrypted || handle == null || typeof handle.useUserBuffer !== 'function') return false;
  const slots = symbolSlots(sock);
  if (slots === null) return false;
  const rec = sock as unknown as Record<symbol, unknown>;
  if (rec[slots.kBuffer] !== null || rec[slots.kBufferCb] !== null) return false;
  rec[slots.kBuffer] = readBuffer;
  rec[slots.kBufferGen] = null;
  rec[slots.kBufferCb] = (n: number) => { onChunk(copyOut(n)); return true; };
  handle.useUserBuffer(readBuffer);
  shortcutOnread(sock, onChunk);
  return true;
}

interface Slots { kBuffer: symbol; kBufferCb: symbol; kBufferGen: symbol }
let cached: Slots | null | undefined;

function symbolSlots(sock: net.Socket): Slots | null {
  if (cached !== undefined) return cached;
  const found: Partial<Record<string, symbol>> = {};
  for (const s of Object.getOwnPropertySymbols(sock)) if (s.description) found[s.description] = s;
  const { kBuffer, kBufferCb, kBufferGen } = found;
  cached = kBuffer && kBufferCb && kBufferGen ? { kBuffer, kBufferCb, kBufferGen } : null;
  return cached;
}
