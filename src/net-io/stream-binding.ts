/**
 * Node's stream_wrap binding (WriteWrap, and the shared state array through which a handle
 * reports read sizes and write outcomes), reached through process.binding, its public
 * legacy door (no warning on Node 20). socket-read.ts and socket-write.ts use it to skip the
 * stream machinery on the hot path; null where it is not offered, and they fall back.
 */
export interface WriteReqObject {
  handle: unknown;
  oncomplete: (this: never, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Buffer | null;
}

export interface StreamWrapBinding {
  WriteWrap: new () => WriteReqObject;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

export const streamBinding: StreamWrapBinding | null = load();

function load(): StreamWrapBinding | null {
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    if (typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array
      && typeof b.kReadBytesOrError === 'number' && typeof b.kLastWriteWasAsync === 'number') {
      return b as StreamWrapBinding;
    }
  } catch { /* not offered */ }
  return null;
}
