/**
 * Socket writes that skip the Writable-stream machinery (a state-machine pass, a request
 * object and a nextTick per write): the buffer goes straight to the TCP handle, as net.Socket
 * itself hands it over, and libuv writes at once when the kernel takes everything (heads and
 * small bodies on loopback nearly always). Order with the socket's own writes is kept: a
 * write goes direct only while the Writable holds nothing and no earlier direct write waits;
 * otherwise it goes through socket.write(), behind it in libuv's write queue. Where the
 * binding is missing, or the socket is not a plain connected TCP socket, socket.write() it is.
 */
import type net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { streamBinding, type WriteReqObject } from '../../redis/stream-binding.js';

interface TcpHandle { writeBuffer(req: WriteReqObject, data: Buffer): number }
interface WaitingWrite extends WriteReqObject { writer: DirectWriter | null }

const binding = streamBinding;

/** libuv ties a request object to a write only when the write has to wait: one spare serves all others. */
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
  if (status < 0) { w.sock.destroy(writeError(status)); return; }
  if (w.waiting === 0) w.onDrain();
}

export class DirectWriter {
  /** Direct writes the kernel has not taken in full yet. */
  waiting = 0;

  /** onDrain: called when waiting direct writes have all completed (their 'drain'). */
  constructor(readonly sock: net.Socket, readonly onDrain: () => void) {}

  /** As socket.write(buf): false when bytes wait (then onDrain, or the socket's 'drain', follows). */
  write(buf: Buffer): boolean {
    const sock = this.sock;
    const h = (sock as unknown as { _handle: Partial<TcpHandle> | null })._handle;
    if (spare === null || this.waiting !== 0 || h === null || typeof h.writeBuffer !== 'function' || sock.connecting ||
        !sock.writable || sock.writableLength !== 0 || sock.writableCorked !== 0) {
      return sock.write(buf);
    }
    const req = spare;
    const err = h.writeBuffer(req, buf);
    if (err !== 0) { sock.destroy(writeError(err)); return false; }
    if (binding!.streamBaseState[binding!.kLastWriteWasAsync] === 0) return true;
    // Part of buf waits in libuv, which needs buf alive and completes through this request.
    spare = newRequest();
    req.handle = h;
    req.async = true;
    req.buffer = buf;
    req.writer = this;
    this.waiting++;
    return false;
  }
}
