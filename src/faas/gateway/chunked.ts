/**
 * Chunked transfer coding, followed rather than decoded: the forwarding path passes the raw
 * bytes through and only needs to know where each message ends.
 */
import { HeadError } from './http1.js';

const enum ChunkState { Size, SizeExt, SizeLf, Data, DataCr, DataLf, Trailer, TrailerLf, TrailerLine, TrailerLineLf }

/**
 * Follows chunked framing byte by byte (sizes, data, CRLFs, trailers) without copying, so
 * the raw bytes can be passed through untouched while we learn where the message ends.
 */
export class ChunkedTracker {
  private state = ChunkState.Size;
  private size = 0;
  private digits = 0;
  private remaining = 0;

  reset(): void { this.state = ChunkState.Size; this.size = 0; this.digits = 0; this.remaining = 0; }

  /** Consumes buf[start..end); returns the index just past the message end, or -1 if not yet. Throws on bad framing. */
  feed(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case ChunkState.Data: {
          const take = Math.min(this.remaining, end - i);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = ChunkState.DataCr;
          continue;
        }
        case ChunkState.Size: {
          const c = buf[i];
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > 12) throw new HeadError('chunk size too large');
            this.size = this.size * 16 + v;
          } else if (this.digits === 0) {
            throw new HeadError('invalid chunk size');
          } else if (c === 13) {
            this.state = ChunkState.SizeLf;
          } else if (c === 59 || c === 32 || c === 9) {
            this.state = ChunkState.SizeExt;
          } else {
            throw new HeadError('invalid chunk size');
          }
          break;
        }
        case ChunkState.SizeExt:
          if (buf[i] === 13) this.state = ChunkState.SizeLf;
          else if (buf[i] === 10) throw new HeadError('bare LF in chunk extension');
          break;
        case ChunkState.SizeLf:
          if (buf[i] !== 10) throw new HeadError('expected LF after chunk size');
          if (this.size === 0) {
            this.state = ChunkState.Trailer;
          } else {
            this.remaining = this.size;
            this.state = ChunkState.Data;
          }
          this.size = 0;
          this.digits = 0;
          break;
        case ChunkState.DataCr:
          if (buf[i] !== 13) throw new HeadError('expected CRLF after chunk data');
          this.state = ChunkState.DataLf;
          break;
        case ChunkState.DataLf:
          if (buf[i] !== 10) throw new HeadError('expected CRLF after chunk data');
          this.state = ChunkState.Size;
          break;
        case ChunkState.Trailer: // start of a trailer line, or the final CRLF
          this.state = buf[i] === 13 ? ChunkState.TrailerLf : ChunkState.TrailerLine;
          break;
        case ChunkState.TrailerLf:
          if (buf[i] !== 10) throw new HeadError('expected LF ending chunked body');
          this.reset();
          return i + 1;
        case ChunkState.TrailerLine:
          if (buf[i] === 13) this.state = ChunkState.TrailerLineLf;
          break;
        case ChunkState.TrailerLineLf:
          if (buf[i] !== 10) throw new HeadError('expected LF after trailer');
          this.state = ChunkState.Trailer;
          break;
      }
      i++;
    }
    return -1;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
