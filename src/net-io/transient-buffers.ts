/**
 * Buffers for bytes in flight on the hot paths (read chunks, sub-commands, merged replies,
 * coalesced writes), carved from 64 KiB slabs. Node's own pool (Buffer.allocUnsafe) uses
 * 8 KiB slabs: at ~100k requests/s that is thousands of young ArrayBuffers between two
 * scavenges, and V8 sweeps each one inside the scavenge's pause (~0.2 ms of a ~0.5 ms pause
 * measured here). Larger slabs make that sweep nearly free. Only for short-lived bytes: a
 * buffer kept for long pins its whole slab.
 */
const SLAB = 64 * 1024;
/** Larger requests get their own allocation (as Node's pool does above half its size). */
const MAX_CARVED = SLAB / 2;

let slab = new ArrayBuffer(SLAB);
let used = 0;

export function transientBuffer(n: number): Buffer {
  if (n > MAX_CARVED) return Buffer.allocUnsafe(n);
  if (used + n > SLAB) {
    slab = new ArrayBuffer(SLAB);
    used = 0;
  }
  const b = Buffer.from(slab, used, n);
  used = (used + n + 7) & ~7; // keep slices 8-byte aligned, like Node's pool
  return b;
}
