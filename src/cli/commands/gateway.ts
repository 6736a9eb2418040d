/**
 * `trellis gateway`: the OpenFaaS-compatible function gateway with the process provider, the
 * activator and the async queue (configured from TRELLIS_ASYNC_* / TRELLIS_NATS_URL), from
 * flags or the `gateway:` section of a YAML file (flags win).
 *
 *   gateway:
 *     listen: 127.0.0.1:8080
 *     data_dir: ./.trellis
 *     auth: { invoke: false }
 *     warm_pool: true
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { startFunctionPlatform } from '../../faas/gateway/platform.js';
import { asyncConfigFromEnv } from '../../faas/queue/index.js';
import { readPackageVersion } from '../version.js';

const fileSchema = z.object({
  gateway: z.object({
    listen: z.string().optional(),
    data_dir: z.string().optional(),
    auth: z.object({ invoke: z.boolean().optional() }).strict().optional(),
    warm_pool: z.boolean().optional(),
  }).strict().optional(),
}).loose();

interface Flags { listen?: string; dataDir?: string; config?: string; warmPool: boolean }

function readConfig(file: string): z.infer<typeof fileSchema>['gateway'] {
  let raw: unknown;
  try { raw = parseYaml(readFileSync(file, 'utf8')); } catch (err) { throw new Error(`${file}: ${(err as Error).message}`); }
  const r = fileSchema.safeParse(raw ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${file}: ${i.path.join('.')}: ${i.message}`);
  }
  return r.data.gateway ?? {};
}

export function registerGateway(program: Command): void {
  program.command('gateway')
    .description('run the OpenFaaS-compatible function gateway (functions run as local processes)')
    .option('--listen <host:port>', 'listen address (default 127.0.0.1:8080)')
    .option('--data-dir <dir>', 'where functions, secrets and bundles are kept (default ./.trellis)')
    .option('--config <file>', 'YAML file with a gateway: section')
    .option('--no-warm-pool', 'do not keep pre-started generic watchdogs for cold starts')
    .action(async (f: Flags) => {
      const file = f.config ? readConfig(f.config) : {};
      const dataDir = f.dataDir ?? file?.data_dir ?? './.trellis';
      const gw = await startFunctionPlatform({
        listen: f.listen ?? file?.listen ?? '127.0.0.1:8080',
        dataDir,
        asyncQueue: asyncConfigFromEnv(process.env, dataDir),
        auth: { invoke: file?.auth?.invoke ?? false },
        warmPool: f.warmPool && file?.warm_pool !== false,
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
