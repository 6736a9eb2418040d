/** Raw command metadata as Redis 7 reports it in COMMAND INFO / COMMAND DOCS (generated data). */

export type RawBeginSearch =
  | { type: 'index'; index: number }
  | { type: 'keyword'; keyword: string; startFrom: number }
  | { type: 'unknown' };

export type RawFindKeys =
  | { type: 'range'; lastKey: number; keyStep: number; limit: number }
  | { type: 'keynum'; keyNumIdx: number; firstKey: number; keyStep: number }
  | { type: 'unknown' };

export interface RawKeySpec {
  /** Key-spec flags as Redis prints them: RO, RW, OW, RM, access, update, insert, delete, incomplete, ... */
  flags: string[];
  beginSearch: RawBeginSearch;
  findKeys: RawFindKeys;
}

export interface RawCommand {
  /** Lowercase; subcommands are 'container|sub', e.g. 'config|set'. */
  name: string;
  arity: number;
  flags: string[];
  firstKey: number;
  lastKey: number;
  step: number;
  aclCategories: string[];
  tips: string[];
  keySpecs: RawKeySpec[];
  group: string;
  summary: string;
  since: string;
  subcommands?: RawCommand[];
}
