/**
 * Command line → spec, with Redis' own error texts for unknown commands, unknown subcommands
 * and wrong argument counts, so clients see exactly what Redis would have said.
 */
import { arityOk, lookupCommand, type CommandSpec } from './spec.js';
import type { GetArg } from './keys.js';

export type Resolved = { spec: CommandSpec; error?: undefined } | { spec?: undefined; error: string };

/** Redis replaces CR and LF with spaces in error texts that echo client input. */
function clean(s: string): string {
  return s.replace(/[\r\n]/g, ' ');
}

function truncate(arg: Buffer, max: number): string {
  return arg.subarray(0, Math.max(0, max)).toString('latin1');
}

/** "ERR unknown command 'foo', with args beginning with: 'a' 'b' " exactly as Redis 7 words it. */
export function unknownCommandError(argc: number, getArg: GetArg): string {
  let args = '';
  for (let i = 1; i < argc && args.length < 128; i++) args += `'${truncate(getArg(i), 128 - args.length)}' `;
  return clean(`ERR unknown command '${truncate(getArg(0), 128)}', with args beginning with: ${args}`);
}

export function unknownSubcommandError(argc: number, getArg: GetArg): string {
  return clean(`ERR unknown subcommand '${truncate(getArg(1), 128)}'. Try ${getArg(0).toString('latin1').toUpperCase()} HELP.`);
}

export function wrongArityError(spec: CommandSpec): string {
  return `ERR wrong number of arguments for '${spec.name}' command`;
}

/**
 * Finds the spec for a command line (subcommand included when the command is a container) and
 * checks its arity. argc includes the command name; getArg(i) returns argument i.
 */
export function resolveCommand(argc: number, getArg: GetArg): Resolved {
  if (argc < 1) return { error: 'ERR empty command' };
  const name = getArg(0);
  const spec = lookupCommand(name.length <= 32 ? name.toString('latin1').toLowerCase() : '');
  if (!spec) return { error: unknownCommandError(argc, getArg) };
  if (spec.subcommands && argc >= 2) {
    const sub = spec.subcommands.get(getArg(1).toString('latin1').toLowerCase());
    if (!sub) return { error: unknownSubcommandError(argc, getArg) };
    return arityOk(sub, argc) ? { spec: sub } : { error: wrongArityError(sub) };
  }
  return arityOk(spec, argc) ? { spec } : { error: wrongArityError(spec) };
}
