/**
 * The activator's bounded per-function FIFO of held requests. Removal of an aborted entry is
 * O(1) (it is marked and skipped), so a burst of client disconnects costs nothing.
 */
export interface Held<T> {
  value: T;
  /** false once taken or removed. */
  live: boolean;
}

export class HoldQueue<T> {
  private items: Held<T>[] = [];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {}

  get size(): number { return this.count; }
  get full(): boolean { return this.count >= this.capacity; }

  /** Appends; returns the entry (for `remove`), or undefined when the queue is full. */
  push(value: T): Held<T> | undefined {
    if (this.full) return undefined;
    const h = { value, live: true };
    this.items.push(h);
    this.count++;
    return h;
  }

  /** The oldest live entry, without taking it. */
  peek(): T | undefined {
    this.skipDead();
    return this.head < this.items.length ? this.items[this.head].value : undefined;
  }

  shift(): T | undefined {
    this.skipDead();
    if (this.head >= this.items.length) return undefined;
    const h = this.items[this.head++];
    h.live = false;
    this.count--;
    this.compact();
    return h.value;
  }

  remove(h: Held<T>): boolean {
    if (!h.live) return false;
    h.live = false;
    this.count--;
    return true;
  }

  /** Takes every live entry, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let v = this.shift(); v !== undefined; v = this.shift()) out.push(v);
    return out;
  }

  private skipDead(): void {
    while (this.head < this.items.length && !this.items[this.head].live) this.head++;
    this.compact();
  }

  private compact(): void {
    if (this.head === this.items.length) { this.items = []; this.head = 0; }
    else if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0; }
  }
}
