/**
 * Socket writes without the Writable-stream machinery, the write-side twin of socket-read.ts.
 * A Writable write costs a state-machine pass, a callback object and a nextTick per write;
 * at one request per client per turn (`-P 1` traffic) that is a large share of the proxy's
 * CPU. Here a write goes straight to the TCP handle, the way net.Socket itself dispatches it
 * (a WriteWrap request; libuv writes synchronously when the kernel takes everything).
 *
 * Order is kept because every byte, ours or the Writable's, enters the same libuv write
 * queue in call order: a direct write is only made while the Writable holds nothing, and
 * while a direct write is still in flight the next writes go through the Writable, which
 * hands them to libuv behind it. Where any of this is not available (TLS, another Node
 * version) every write simply uses socket.write().
 */
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { streamBinding, type WriteReqObject } from './stream-binding.js';

interface WriteReq extends WriteReqObject {
  handle: TcpHandle | null;
  oncomplete: (this: WriteReq, status: number) => void;
  writer: SocketWriter | null;
}
interface TcpHandle { writeBuffer(req: WriteReq, data: Buffer): number }

const binding = streamBinding;

/**
 * A write that the kernel takes at once never touches its request object (libuv only binds
 * one when the write has to wait), so one spare object serves every such write.
 */
let spare: WriteReq | null = binding === null ? null : newRequest();

function newRequest(): WriteReq {
  const req = new binding!.WriteWrap() as WriteReq;
  req.handle = null;
  req.oncomplete = onWriteComplete;
  req.async = false;
  req.bytes = 0;
  req.buffer = null;
  req.writer = null;
  return req;
}

function onWriteComplete(this: WriteReq, status: number): void {
  const w = this.writer!;
  this.writer = null;
  this.buffer = null;
  w.inFlightBytes -= this.bytes;
  if (status < 0) {
    w.socket.destroy(new Error(`write failed (${getSystemErrorName(status)})`));
    return;
  }
  if (w.inFlightBytes === 0) w.onDrain();
}

export class SocketWriter {
  /** Bytes of direct writes the kernel has not taken yet. */
  inFlightBytes = 0;
  private readonly handle: TcpHandle | null;

  /** onDrain: called when direct writes that went asynchronous have all completed (like 'drain'). */
  constructor(readonly socket: net.Socket, readonly onDrain: () => void) {
    this.handle = directHandle(socket);
  }

  write(buf: Buffer): void {
    const sock = this.socket;
    const h = this.handle;
    if (h === null || this.inFlightBytes !== 0 || sock.writableLength !== 0 || h !== (sock as unknown as { _handle: unknown })._handle || sock.destroyed) {
      sock.write(buf);
      return;
    }
    const req = spare!;
    const err = h.writeBuffer(req, buf);
    if (err !== 0) {
      sock.destroy(new Error(`write failed (${getSystemErrorName(err)})`));
      return;
    }
    if (binding!.streamBaseState[binding!.kLastWriteWasAsync] !== 0) {
      // The kernel took part of it; libuv writes the rest from buf, which must stay alive.
      // The request object now belongs to that write: the next write gets a fresh one.
      spare = newRequest();
      req.handle = h;
      req.async = true;
      req.bytes = buf.length;
      req.buffer = buf;
      req.writer = this;
      this.inFlightBytes += buf.length;
    }
  }

  /** Bytes written but not yet taken by the kernel (direct and Writable). */
  get backlog(): number {
    return this.inFlightBytes + this.socket.writableLength;
  }
}

function directHandle(sock: net.Socket): TcpHandle | null {
  if (binding === null || !(sock instanceof net.Socket) || (sock as { encrypted?: boolean }).encrypted) return null;
  const h = (sock as unknown as { _handle?: Partial<TcpHandle> | null })._handle;
  return h != null && typeof h.writeBuffer === 'function' ? (h as TcpHandle) : null;
}
