/**
 * `trellis` — the command line. The only place that wires components to process-level
 * concerns (signals, logging, exit codes). Each subcommand lives in its own file.
 */
import { Command } from 'commander';
import { registerRedisProxy } from './commands/redis-proxy.js';
import { registerGateway } from './commands/gateway.js';
import { registerFn } from './commands/fn.js';
import { registerAsync } from './commands/async.js';
import { registerUp } from './commands/up.js';
import { readPackageVersion } from './version.js';

const program = new Command();
program
  .name('trellis')
  .description('Trellis: a Redis mesh proxy and a function platform')
  .version(readPackageVersion())
  .showHelpAfterError();

registerUp(program);
registerRedisProxy(program);
registerGateway(program);
registerFn(program);
registerAsync(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`trellis: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
