/**
 * Load balancing across a function's instances, as Knative's activator picks it by
 * containerConcurrency (pkg/activator/net/lb_policy.go): CC = 0 → power of two choices on
 * in-flight count; CC ≤ 3 → first available; otherwise round robin over those with room.
 */
export interface Backend {
  inflight: number;
  /** true while it takes new work (ready and not draining). */
  eligible: boolean;
}

export type LbPolicy<B extends Backend> = (backends: readonly B[], cc: number) => B | undefined;

const hasRoom = (b: Backend, cc: number) => b.eligible && (cc === 0 || b.inflight < cc);

export function powerOfTwoChoices<B extends Backend>(backends: readonly B[], cc: number, random = Math.random): B | undefined {
  const n = backends.length;
  if (n === 0) return undefined;
  if (n === 1) return hasRoom(backends[0], cc) ? backends[0] : undefined;
  const i = Math.floor(random() * n);
  let j = Math.floor(random() * (n - 1));
  if (j >= i) j++;
  const a = backends[i], b = backends[j];
  const pick = !hasRoom(a, cc) ? b : !hasRoom(b, cc) ? a : (b.inflight < a.inflight ? b : a);
  if (hasRoom(pick, cc)) return pick;
  return backends.find((x) => hasRoom(x, cc)); // both sampled were unusable: scan
}

export function firstAvailable<B extends Backend>(backends: readonly B[], cc: number): B | undefined {
  for (const b of backends) if (hasRoom(b, cc)) return b;
  return undefined;
}

export function roundRobin<B extends Backend>(): LbPolicy<B> {
  let next = 0;
  return (backends, cc) => {
    const n = backends.length;
    for (let k = 0; k < n; k++) {
      const b = backends[(next + k) % n];
      if (hasRoom(b, cc)) { next = (next + k + 1) % n; return b; }
    }
    return undefined;
  };
}

/** The policy Knative would use for this containerConcurrency. */
export function policyFor<B extends Backend>(cc: number): LbPolicy<B> {
  if (cc === 0) return (bs, c) => powerOfTwoChoices(bs, c);
  if (cc <= 3) return firstAvailable;
  return roundRobin<B>();
}
