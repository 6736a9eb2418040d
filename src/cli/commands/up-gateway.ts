/**
 * The function platform as a `trellis up` component: the OpenFaaS-compatible gateway (process
 * provider, warm pool, activator, embedded async queue) with the functions of
 * examples/stack.yml deployed, ready for curl. Configured by the `gateway:` section:
 *
 *   gateway:
 *     listen: 127.0.0.1:8080
 *     data_dir: ./.trellis
 *     warm_pool: true         # or false, or sizes: { node: 2, python3: 1 }
 *     autoscaler: { stable_window: 60s, scale_to_zero_grace_period: 30s, ... }
 *     examples: true          # or a path to another stack.yml; false deploys nothing
 *
 * The fields it shares with `trellis gateway --config` come from one schema
 * (src/faas/gateway/config.ts); `enabled` and `examples` are `trellis up`'s own.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../redis/index.js';
import type { GatewaySettings } from '../../faas/gateway/config.js';
import type { RunningComponent, UpComponent, UpConfig, UpOptions } from './up.js';

export const DEFAULT_GATEWAY_LISTEN = '127.0.0.1:8080';

interface UpGatewaySection {
  enabled?: boolean; listen?: string; data_dir?: string; auth?: { invoke?: boolean }; examples?: boolean | string;
  settings: GatewaySettings;
}

/** The schema and the platform load when `trellis up` runs, not for `trellis up --help`. */
async function readSection(config: UpConfig): Promise<UpGatewaySection> {
  const [{ z }, { gatewaySectionShape, gatewaySettings, parseGatewaySection }] = await Promise.all([
    import('zod'), import('../../faas/gateway/config.js'),
  ]);
  const sectionSchema = z.object({
    ...gatewaySectionShape,
    enabled: z.boolean().optional(),
    examples: z.union([z.boolean(), z.string()]).optional(),
  }).strict();
  try {
    const section = parseGatewaySection(sectionSchema, config.gateway);
    return { ...section, settings: gatewaySettings(section) };
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export const gatewayComponent: UpComponent = {
  name: 'gateway',
  async start(config: UpConfig, opts: UpOptions): Promise<RunningComponent | undefined> {
    const section = await readSection(config);
    if (opts.gateway === false || section.enabled === false) return undefined;
    const [{ startFunctionPlatform }, { asyncConfigFromEnv }, { deployStack, GatewayClient, packageRoot }, { readPackageVersion }] = await Promise.all([
      import('../../faas/gateway/platform.js'), import('../../faas/queue/index.js'), import('../client/index.js'), import('../version.js'),
    ]);
    const dataDir = resolve(opts.dataDir ?? section.data_dir ?? './.trellis');
    const examples = section.examples ?? true;
    const stackFile = examples === false ? undefined
      : examples === true ? join(packageRoot(), 'examples', 'stack.yml') : resolve(examples);
    if (stackFile !== undefined && !existsSync(stackFile)) throw new ConfigError(`gateway.examples: ${stackFile} does not exist`);

    const gw = await startFunctionPlatform({
      listen: opts.gatewayListen ?? section.listen ?? DEFAULT_GATEWAY_LISTEN,
      dataDir,
      asyncQueue: asyncConfigFromEnv(process.env, dataDir),
      auth: { invoke: section.auth?.invoke ?? false },
      warmPool: section.settings.warmPool,
      autoscaler: section.settings.autoscaler,
      version: readPackageVersion(),
    });
    let deployed: string[] = [];
    try {
      if (stackFile !== undefined) {
        const client = new GatewayClient(gw.url(), { username: 'admin', password: gw.adminPassword });
        deployed = await deployStack(client, stackFile, { log: () => {} });
      }
    } catch (err) {
      await gw.close();
      throw new Error(`gateway: deploying ${stackFile} failed: ${(err as Error).message}`);
    }
    return {
      describe: () => [
        `gateway      ${gw.url()} (OpenFaaS API; admin user "admin", password ${gw.adminPasswordSource})`,
        ...deployed.map((name) => `function     ${name}: ${gw.url()}/function/${name}`),
      ],
      async stop() { await gw.close().catch(() => undefined); },
    };
  },
};
