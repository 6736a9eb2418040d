/**
 * `trellis gateway`: the OpenFaaS-compatible function gateway with the process provider, the
 * activator and the async queue (configured from TRELLIS_ASYNC_* / TRELLIS_NATS_URL), from
 * flags or the `gateway:` section of a YAML file (flags win).
 *
 *   gateway:
 *     listen: 127.0.0.1:8080
 *     data_dir: ./.trellis
 *     auth: { invoke: false }
 *     warm_pool: { node: 2, python3: 1 }   # or true / false
 *     autoscaler: { stable_window: 60s, scale_to_zero_grace_period: 30s, ... }
 *
 * The section's schema is shared with `trellis up` (src/faas/gateway/config.ts).
 */
import type { Command } from 'commander';
import type { GatewaySection } from '../../faas/gateway/config.js';

interface Flags { listen?: string; dataDir?: string; config?: string; warmPool: boolean }

/** The file's `gateway:` section (other top-level sections, e.g. for `trellis up`, are ignored). */
export async function readGatewayConfig(file: string): Promise<GatewaySection> {
  const [{ readFileSync }, { parse: parseYaml }, { gatewaySectionSchema, parseGatewaySection }] = await Promise.all([
    import('node:fs'), import('yaml'), import('../../faas/gateway/config.js'),
  ]);
  let raw: unknown;
  try { raw = parseYaml(readFileSync(file, 'utf8')); } catch (err) { throw new Error(`${file}: ${(err as Error).message}`); }
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) throw new Error(`${file}: expected a mapping with a gateway: section`);
  try {
    return parseGatewaySection(gatewaySectionSchema, (raw as { gateway?: unknown } | null)?.gateway);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

export function registerGateway(program: Command): void {
  program.command('gateway')
    .description('run the OpenFaaS-compatible function gateway (functions run as local processes)')
    .option('--listen <host:port>', 'listen address (default 127.0.0.1:8080)')
    .option('--data-dir <dir>', 'where functions, secrets and bundles are kept (default ./.trellis)')
    .option('--config <file>', 'YAML file with a gateway: section')
    .option('--no-warm-pool', 'do not keep pre-started generic watchdogs for cold starts')
    .action(async (f: Flags) => {
      // The platform (gateway, runtime, queue) loads only when the command runs, not for --help.
      const [{ startFunctionPlatform }, { gatewaySettings }, { asyncConfigFromEnv }, { readPackageVersion }] = await Promise.all([
        import('../../faas/gateway/platform.js'), import('../../faas/gateway/config.js'), import('../../faas/queue/index.js'), import('../version.js'),
      ]);
      const file: GatewaySection = f.config ? await readGatewayConfig(f.config) : {};
      let settings;
      try { settings = gatewaySettings(file); } catch (err) { throw new Error(`${f.config}: ${(err as Error).message}`); }
      const dataDir = f.dataDir ?? file.data_dir ?? './.trellis';
      const gw = await startFunctionPlatform({
        listen: f.listen ?? file.listen ?? '127.0.0.1:8080',
        dataDir,
        asyncQueue: asyncConfigFromEnv(process.env, dataDir),
        auth: { invoke: file.auth?.invoke ?? false },
        warmPool: f.warmPool ? settings.warmPool : false,
        autoscaler: settings.autoscaler,
        version: readPackageVersion(),
      });
      process.stdout.write(`trellis gateway listening on ${gw.url()} (data in ${dataDir})\n`);
      const stop = async () => {
        process.stdout.write('trellis gateway: stopping\n');
        await gw.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}
