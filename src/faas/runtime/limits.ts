/** Parsing of deployment limits: Kubernetes memory quantities and Go-style durations. */

const MEM_UNITS: Record<string, number> = {
  '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12,
  Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4,
};

/** "128Mi", "1G", "512000" → bytes. Throws with the reason on anything else. */
export function parseMemory(q: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKMGT]i?|)\s*$/.exec(q);
  if (!m || !(m[2] in MEM_UNITS)) throw new Error(`invalid memory quantity "${q}" (examples: 128Mi, 1Gi, 256M)`);
  const bytes = Math.floor(Number(m[1]) * MEM_UNITS[m[2]]);
  if (bytes < 16 * 1024 * 1024) throw new Error(`memory limit "${q}" is below the 16Mi minimum`);
  return bytes;
}

const DUR_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "30s", "500ms", "1m30s", or a number of seconds → milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new Error(`invalid duration ${v}`);
    return Math.round(v * 1000);
  }
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) { total += Number(m[1]) * DUR_UNITS[m[2]]; consumed += m[0].length; }
  if (consumed !== s.length || consumed === 0) throw new Error(`invalid duration "${v}" (examples: 30s, 500ms, 1m30s)`);
  return Math.round(total);
}
