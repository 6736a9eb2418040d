/**
 * The Redis 7 command table: arity, flags, ACL categories, key specs and subcommands of every
 * command (generated from a real redis-server by scripts/gen-command-table.ts), and the
 * interpretation of key specs for concrete command lines.
 */
export type { RawCommand, RawKeySpec, RawBeginSearch, RawFindKeys } from './types.js';
export { REDIS_VERSION, COMMAND_TABLE } from './table.generated.js';
export {
  COMMANDS, CommandFlag, lookupCommand, lookupSubcommand, hasFlag, isWriteCommand, isPubSubCommand, arityOk,
  type CommandSpec, type KeySpec,
} from './spec.js';
export { commandKeys, firstKeyIndex, isBlocking, argIs, parseInteger, type GetArg } from './keys.js';
export { resolveCommand, unknownCommandError, unknownSubcommandError, wrongArityError, type Resolved } from './resolve.js';
