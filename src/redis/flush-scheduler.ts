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

let queue: Flushable[] = [];
let spare: Flushable[] = [];
let scheduled = false;

function runFlushes(): void {
  scheduled = false;
  // Flushing may queue more work (e.g. a local reply); that lands in the next turn's list.
  const list = queue;
  queue = spare;
  for (let i = 0; i < list.length; i++) {
    const f = list[i];
    f.flushQueued = false;
    f.flush();
  }
  list.length = 0;
  spare = list;
}

export function scheduleFlush(f: Flushable): void {
  if (f.flushQueued) return;
  f.flushQueued = true;
  queue.push(f);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runFlushes);
  }
}
