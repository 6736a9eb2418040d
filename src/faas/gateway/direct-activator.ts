/**
 * A minimal activator for when none is given: round-robin over ready instances, starting
 * one (single flight) when there is none. No holding queue, no concurrency limits: the real
 * activator (src/faas/activator) does that.
 */
import type { Activator, InstanceLease } from '../activator/types.js';
import { ActivationError } from '../activator/types.js';
import type { InstanceInfo, RuntimeProvider } from '../runtime/provider.js';

export function createDirectActivator(provider: RuntimeProvider): Activator {
  const next = new Map<string, number>();
  const starting = new Map<string, Promise<InstanceInfo>>();
  const noop = () => {};
  const lease = (i: InstanceInfo, coldStart: boolean): InstanceLease =>
    ({ instanceId: i.id, host: i.host, port: i.port, coldStart, release: noop });
  return {
    async acquire(fn) {
      const ready = provider.instances(fn).filter((i) => i.state === 'ready');
      if (ready.length > 0) {
        const n = (next.get(fn) ?? 0) % ready.length;
        next.set(fn, n + 1);
        return lease(ready[n], false);
      }
      let p = starting.get(fn);
      if (!p) {
        p = provider.startInstance(fn).finally(() => starting.delete(fn));
        starting.set(fn, p);
      }
      try {
        return lease(await p, true);
      } catch (err) {
        throw new ActivationError(`function "${fn}" has no ready instance: ${(err as Error).message}`, 503, 1);
      }
    },
    held: () => 0,
    close: async () => {},
  };
}
