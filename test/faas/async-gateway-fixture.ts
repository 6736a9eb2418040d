/**
 * A real gateway process for the async proof tests: createGateway (fast path, management API,
 * activator) with the test provider (real node function processes), plus attachAsync
 * configured from the environment exactly as `trellis gateway` would be.
 * Env: PORT, DATA_DIR, ADMIN_PASSWORD, TRELLIS_ASYNC_* (see asyncConfigFromEnv).
 */
import { createGateway } from '../../src/faas/gateway/index.js';
import { attachAsync, asyncConfigFromEnv } from '../../src/faas/queue/index.js';
import { TestProvider } from './gateway-test-provider.js';

const dataDir = process.env.DATA_DIR!;
const gw = await createGateway({
  listen: `127.0.0.1:${process.env.PORT}`, dataDir, provider: new TestProvider(),
  adminPassword: process.env.ADMIN_PASSWORD ?? 'secret', log: (l) => process.stderr.write(l + '\n'),
});
const svc = await attachAsync({
  addRoute: (m, p, h) => gw.addRoute(m, p, h),
  invoke: (name, req) => gw.invoke(name, req),
  functionMeta: (name) => gw.registry.record(name)?.spec,
  log: (l) => process.stderr.write(l + '\n'),
}, asyncConfigFromEnv(process.env, dataDir));
process.stdout.write(`ready ${gw.url()}\n`);
const stop = async () => { await svc.close(); await gw.close(); process.exit(0); };
process.on('SIGTERM', () => { void stop(); });
process.on('SIGINT', () => { void stop(); });
