/**
 * `trellis` — the command line. The only place that wires components to process-level
 * concerns (signals, logging, exit codes). Each subcommand lives in its own file.
 *
 * Command modules load lazily: `trellis fn invoke` loads only what `fn` needs (not the Redis
 * proxy, the queue or the gateway), which keeps every call fast and means a problem in one
 * command's module never breaks another command. `trellis --help` (or an unknown command)
 * loads them all, so the help stays complete.
 */
import { Command } from 'commander';
import { readPackageVersion } from './version.js';

type Register = (program: Command) => void;

/** Top-level command name → the module registering it (with its subcommands). */
const COMMANDS: Record<string, () => Promise<Register>> = {
  up: async () => (await import('./commands/up.js')).registerUp,
  'redis-proxy': async () => (await import('./commands/redis-proxy.js')).registerRedisProxy,
  gateway: async () => (await import('./commands/gateway.js')).registerGateway,
  fn: async () => (await import('./commands/fn.js')).registerFn,
  secret: async () => (await import('./commands/fn.js')).registerFn,
  login: async () => (await import('./commands/fn.js')).registerFn,
  async: async () => (await import('./commands/async.js')).registerAsync,
};

/** Registration order for the full help listing. */
const ORDER = ['up', 'redis-proxy', 'gateway', 'fn', 'async'];

/** The top-level command the arguments name, if it is one of ours. */
function requestedCommand(args: string[]): string | undefined {
  const first = args.find((a) => !a.startsWith('-'));
  return first !== undefined && Object.hasOwn(COMMANDS, first) ? first : undefined;
}

async function main(): Promise<void> {
  const program = new Command();
  program
    .name('trellis')
    .description('Trellis: a Redis mesh proxy and a function platform')
    .version(readPackageVersion())
    .showHelpAfterError();
  const wanted = requestedCommand(process.argv.slice(2));
  const registers = await Promise.all((wanted !== undefined ? [wanted] : ORDER).map((c) => COMMANDS[c]()));
  for (const register of registers) register(program);
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  process.stderr.write(`trellis: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
