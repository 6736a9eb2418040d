/**
 * Per (caller, command) counters and latency histograms in plain typed arrays, filled on the
 * hot path with a few number writes and folded into Prometheus / INFO / JSON at read time.
 * Callers (client name, ACL user or source address) are interned up to `maxCallers`; later
 * ones share the "other" row. At read time only the `topCallers` busiest keep their label.
 */

/** Latency bucket upper bounds in seconds (Prometheus `le`). */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const NB = LATENCY_BUCKETS.length;
/** Row layout: total, errors, latency sum (s), then one count per bucket (not cumulative). */
const TOTAL = 0;
const ERRORS = 1;
const SUM = 2;
const ROW = 3 + NB;
/** Command ids per caller (the command table has ~240 top-level names). */
const CMD_SPACE = 1024;

export interface CommandRow { caller: string; command: string; total: number; errors: number; sumSeconds: number; buckets: number[] }

export class CommandStats {
  private readonly callerIds = new Map<string, number>([['other', 0]]);
  readonly callers: string[] = ['other'];
  private readonly rowIndex = new Map<number, number>();
  private rows: Float64Array[] = [];
  private rowKeys: number[] = [];

  constructor(readonly maxCallers: number, readonly topCallers: number, private readonly commandName: (id: number) => string) {}

  /** Caller index for an identity (0 = other once the table is full). */
  caller(identity: string): number {
    const id = this.callerIds.get(identity);
    if (id !== undefined) return id;
    if (this.callers.length > this.maxCallers) return 0;
    const n = this.callers.length;
    this.callers.push(identity);
    this.callerIds.set(identity, n);
    return n;
  }

  /** The row for (caller, command), created on first use. */
  row(caller: number, command: number): number {
    const key = caller * CMD_SPACE + (command < CMD_SPACE ? command : 0);
    let r = this.rowIndex.get(key);
    if (r === undefined) {
      r = this.rows.length;
      this.rows.push(new Float64Array(ROW));
      this.rowKeys.push(key);
      this.rowIndex.set(key, r);
    }
    return r;
  }

  record(row: number, seconds: number, error: boolean): void {
    const a = this.rows[row];
    if (a === undefined) return; // a row of the table a reload replaced
    a[TOTAL]++;
    if (error) a[ERRORS]++;
    a[SUM] += seconds;
    let b = 0;
    while (b < NB && seconds > LATENCY_BUCKETS[b]) b++;
    if (b < NB) a[3 + b]++;
  }

  /** Rows folded so that only the top callers (by total requests) keep their names. */
  snapshot(): CommandRow[] {
    const perCaller = new Float64Array(this.callers.length);
    this.rows.forEach((a, i) => { perCaller[Math.floor(this.rowKeys[i] / CMD_SPACE)] += a[TOTAL]; });
    const ranked = [...perCaller.keys()].filter((c) => c !== 0 && perCaller[c] > 0).sort((x, y) => perCaller[y] - perCaller[x]);
    const keep = new Set(ranked.slice(0, this.topCallers));
    const out = new Map<string, CommandRow>();
    this.rows.forEach((a, i) => {
      const c = Math.floor(this.rowKeys[i] / CMD_SPACE);
      const caller = keep.has(c) ? this.callers[c] : 'other';
      const command = this.commandName(this.rowKeys[i] % CMD_SPACE);
      const k = `${caller}\u0000${command}`;
      let r = out.get(k);
      if (!r) { r = { caller, command, total: 0, errors: 0, sumSeconds: 0, buckets: new Array(NB).fill(0) }; out.set(k, r); }
      r.total += a[TOTAL];
      r.errors += a[ERRORS];
      r.sumSeconds += a[SUM];
      for (let b = 0; b < NB; b++) r.buckets[b] += a[3 + b];
    });
    return [...out.values()];
  }
}

/** Sums rows over callers: per command totals. */
export function byCommand(rows: CommandRow[]): Map<string, { total: number; errors: number; sumSeconds: number }> {
  const m = new Map<string, { total: number; errors: number; sumSeconds: number }>();
  for (const r of rows) {
    const e = m.get(r.command) ?? { total: 0, errors: 0, sumSeconds: 0 };
    e.total += r.total; e.errors += r.errors; e.sumSeconds += r.sumSeconds;
    m.set(r.command, e);
  }
  return m;
}
