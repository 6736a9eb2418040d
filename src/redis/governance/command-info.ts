/**
 * What governance needs to know about a command, computed once per name: a small numeric id
 * (for stats rows), its class (read / write / admin / other) for permissions, rate limits and
 * timeouts, and whether it is safe to retry. Unknown names share one id, so garbage commands
 * cannot grow the tables.
 */
import { CommandFlag, lookupCommand, type CommandSpec } from '../commands/index.js';

export type Klass = 'read' | 'write' | 'admin' | 'other';
export const CLASSES: readonly Klass[] = ['read', 'write', 'admin', 'other'];

export interface CommandInfo {
  readonly id: number;
  readonly name: string;
  readonly spec: CommandSpec | undefined;
  readonly klass: Klass;
  /** Read-only and single-key at a fixed index: retried on connection failure or timeout. */
  readonly retryable: boolean;
}

function classify(spec: CommandSpec | undefined): Klass {
  if (!spec) return 'other';
  const f = spec.flagBits;
  if (f & CommandFlag.ADMIN) return 'admin';
  if (f & CommandFlag.WRITE) return 'write';
  if (f & CommandFlag.READONLY) return 'read';
  return 'other';
}

/** Class of a container command's subcommand (CONFIG SET is admin, OBJECT ENCODING is read). */
export function subcommandClass(spec: CommandSpec, sub: string): Klass {
  return classify(spec.subcommands?.get(sub.toLowerCase()) ?? spec);
}

export class CommandTable {
  private readonly byName = new Map<string, CommandInfo>();
  readonly list: CommandInfo[] = [];
  readonly unknown: CommandInfo;

  constructor() {
    this.unknown = this.add('unknown', undefined);
  }

  private add(name: string, spec: CommandSpec | undefined): CommandInfo {
    const klass = classify(spec);
    const info: CommandInfo = {
      id: this.list.length, name, spec, klass,
      retryable: spec !== undefined && klass === 'read' && spec.singleKeyIndex > 0 && (spec.flagBits & CommandFlag.BLOCKING) === 0,
    };
    this.list.push(info);
    this.byName.set(name, info);
    return info;
  }

  get(name: string): CommandInfo {
    const hit = this.byName.get(name);
    if (hit !== undefined) return hit;
    const spec = lookupCommand(name);
    if (spec === undefined && !LOCAL_ONLY.has(name)) return this.unknown;
    return this.add(name, spec);
  }
}

/** Names the proxy answers that may be missing from the command table. */
const LOCAL_ONLY = new Set(['auth', 'hello', 'quit', 'ping', 'echo', 'select', 'client', 'command', 'info']);
