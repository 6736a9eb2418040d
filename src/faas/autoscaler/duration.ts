/**
 * Go-style durations as Knative annotations and OpenFaaS labels write them: `30s`, `1m30s`,
 * `500ms`, `1h`. A bare number means seconds (OpenFaaS' `timeout: 60`). Returns milliseconds.
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(value: string | number, what = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${what}: expected a non-negative number of seconds, got ${value}`);
    return value * 1000;
  }
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = part.exec(s); m; m = part.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = part.lastIndex;
  }
  if (s.length === 0 || matched !== s.length) {
    throw new Error(`${what}: "${value}" is not a duration (examples: 30s, 1m30s, 500ms)`);
  }
  return total;
}
