/**
 * The function platform in one call: the process provider (with an optional warm pool), the
 * activator and the gateway, wired together. `trellis gateway` and `trellis up` use it.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { attachAsync, type AsyncConfig, type AsyncService } from '../queue/index.js';
import { ProcessProvider } from '../runtime/index.js';
import { WarmPool } from '../runtime/pool/index.js';
import { createGateway, type Gateway, type GatewayOptions } from './index.js';

export interface PlatformOptions extends Omit<GatewayOptions, 'provider'> {
  /**
   * Keep generic started watchdogs for fast cold starts: true (default: node 2, python3 1),
   * false (none), or sizes per runtime (0 disables one).
   */
  warmPool?: boolean | { node?: number; python3?: number };
  /** The async queue (/async-function/..., /system/async...) and its worker; false = none. */
  asyncQueue?: AsyncConfig | false;
}

export async function startFunctionPlatform(opts: PlatformOptions): Promise<Gateway> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const runRoot = join(opts.dataDir, 'run');
  mkdirSync(runRoot, { recursive: true, mode: 0o700 });
  const runDir = mkdtempSync(join(runRoot, 'instances-'));
  let pool: WarmPool | undefined;
  let gw: Gateway;
  try {
    gw = await createGateway({
      ...opts,
      provider: ({ bundlesDir, secret }) => {
        const wp = opts.warmPool ?? true;
        if (wp !== false) pool = new WarmPool({ runDir, log: opts.log, ...(wp === true ? {} : { size: wp }) });
        return new ProcessProvider({ bundlesDir, runDir, resolveSecret: secret, ...(pool ? { pool } : {}) });
      },
    });
  } catch (err) {
    await pool?.close();
    rmSync(runDir, { recursive: true, force: true });
    throw err;
  }
  let asyncSvc: AsyncService | undefined;
  if (opts.asyncQueue) {
    try {
      asyncSvc = await attachAsync({
        addRoute: (m, p, h) => gw.addRoute(m, p, h),
        invoke: (name, req) => gw.invoke(name, req),
        functionMeta: (name) => gw.registry.record(name)?.spec,
        log: opts.log,
        metricsRegistry: gw.metricsRegistry,
      }, opts.asyncQueue);
    } catch (err) {
      await gw.close();
      await pool?.close();
      throw err;
    }
  }
  return {
    ...gw,
    address: gw.address,
    url: gw.url,
    adminPassword: gw.adminPassword,
    async close() {
      await asyncSvc?.close();
      await gw.close();
      await pool?.close();
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}
