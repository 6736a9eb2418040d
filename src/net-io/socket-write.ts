/**
 * Socket writes without the Writable-stream machinery, the write-side twin of socket-read.ts.
 * A Writable write costs a state-machine pass, a callback object and a nextTick per write;
 * for a proxy answering one small request per connection per turn that is a large share of
 * its CPU. Here the buffer goes straight to the TCP handle, the way net.Socket itself hands it
 * over, and libuv writes at once when the kernel takes everything (nearly always on loopback).
 *
 * Order is kept because every byte, ours or the Writable's, enters the same libuv write queue
 * in call order: a write goes direct only while the Writable holds nothing and no earlier
 * direct write waits; otherwise it goes through socket.write(), behind it in libuv's queue.
 * Where the binding is missing, or the socket is not a plain TCP socket (TLS), every write
 * simply uses socket.write().
 */
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { streamBinding, type WriteReqObject } from './stream-binding.js';

interface TcpHandle { writeBuffer(req: WriteReqObject, data: Buffer): number }
interface WaitingWrite extends WriteReqObject { writer: SocketWriter | null }

const binding = streamBinding;

/**
 * A write the kernel takes at once never touches its request object (libuv ties one to a write
 * only when the write has to wait), so one spare object serves every such write.
 */
let spare: WaitingWrite | null = binding === null ? null : newRequest();

function newRequest(): WaitingWrite {
  const req = new binding!.WriteWrap() as WaitingWrite;
  req.handle = null;
  req.oncomplete = onWriteComplete;
  req.async = false;
  req.bytes = 0;
  req.buffer = null;
  req.writer = null;
  return req;
}

function writeError(status: number): Error {
  const name = getSystemErrorName(status);
  return Object.assign(new Error(`write ${name}`), { code: name, syscall: 'write' });
}

function onWriteComplete(this: WaitingWrite, status: number): void {
  const w = this.writer!;
  this.writer = null;
  this.buffer = null;
  w.waiting--;
  w.inFlightBytes -= this.bytes;
  if (status < 0) { w.socket.destroy(writeError(status)); return; }
  if (w.waiting === 0) w.onDrain();
}

export class SocketWriter {
  /** Direct writes the kernel has not taken in full yet, and their bytes. */
  waiting = 0;
  inFlightBytes = 0;
  readonly direct: boolean;
  /**
   * Whether the last write() left no reference to its buffer: the kernel took every byte at
   * once. Only then may the caller overwrite the buffer (OutQueue reuses its staging buffer).
   */
  lastWriteReleased = false;

  /** onDrain: called when waiting direct writes have all completed (their 'drain'). */
  constructor(readonly socket: net.Socket, readonly onDrain: () => void) {
    this.direct = spare !== null && socket instanceof net.Socket && !(socket as { encrypted?: boolean }).encrypted;
  }

  /** As socket.write(buf): false when bytes wait (then onDrain, or the socket's 'drain', follows). */
  write(buf: Buffer): boolean {
    this.lastWriteReleased = false;
    const sock = this.socket;
    const h = (sock as unknown as { _handle: Partial<TcpHandle> | null })._handle;
    if (!this.direct || this.waiting !== 0 || h === null || typeof h.writeBuffer !== 'function' || sock.connecting ||
        !sock.writable || sock.writableLength !== 0 || sock.writableCorked !== 0) {
      return sock.write(buf);
    }
    const req = spare!;
    const err = h.writeBuffer(req, buf);
    if (err !== 0) { sock.destroy(writeError(err)); return false; }
    if (binding!.streamBaseState[binding!.kLastWriteWasAsync] === 0) {
      this.lastWriteReleased = true;
      return true;
    }
    // Part of buf waits in libuv, which needs buf alive and completes through this request.
    spare = newRequest();
    req.handle = h;
    req.async = true;
    req.bytes = buf.length;
    req.buffer = buf;
    req.writer = this;
    this.waiting++;
    this.inFlightBytes += buf.length;
    return false;
  }

  /** Bytes written but not yet taken by the kernel (direct and Writable). */
  get backlog(): number {
    return this.inFlightBytes + this.socket.writableLength;
  }
}
