/**
 * One socket write per connection per event-loop turn. Producers (sessions, upstream
 * connections) queue bytes during the poll phase and ask for a flush; a single setImmediate
 * (check phase, after every ready read was handled) flushes them all at once.
 */
export interface Flushable {
  /** Set while queued, so a connection is listed once per turn. */
  flushQueued: boolean;
  flush(): void;
}

/**
 * Two lists swapped each turn, each an array kept at its size with a count of the live entries:
 * emptying an array with `length = 0` frees its storage, and the pushes of the next turn grew
 * it again (~40 bytes of garbage per request at -P 1).
 */
let queue: Flushable[] = [];
let queued = 0;
let spare: Flushable[] = [];
let scheduled = false;

const NONE: Flushable = { flushQueued: false, flush: () => undefined };

function runFlushes(): void {
  scheduled = false;
  // Flushing may queue more work (e.g. a local reply); that lands in the next turn's list.
  const list = queue;
  const n = queued;
  queue = spare;
  queued = 0;
  for (let i = 0; i < n; i++) {
    const f = list[i];
    list[i] = NONE; // no reference kept to a closed connection
    f.flushQueued = false;
    f.flush();
  }
  // A burst made it large: let it go rather than keep it for ever.
  spare = list.length > 4096 ? [] : list;
}

export function scheduleFlush(f: Flushable): void {
  if (f.flushQueued) return;
  f.flushQueued = true;
  if (queued < queue.length) queue[queued++] = f;
  else { queue.push(f); queued++; }
  if (!scheduled) {
    scheduled = true;
    setImmediate(runFlushes);
  }
}
