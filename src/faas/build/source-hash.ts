/** Content hash of a function's source: sha256 over (path, file hash) pairs in sorted order. */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { walkDir } from './tar.js';

/** Directories and files that are build output or tooling state, never source. */
export function isIgnoredSource(rel: string, isDir: boolean): boolean {
  const base = rel.split('/').pop() ?? rel;
  if (isDir) return base === 'node_modules' || base === '.git' || base === '.trellis' || base === '__pycache__';
  return base === '.DS_Store' || base.endsWith('.pyc');
}

export async function listSourceFiles(srcDir: string): Promise<string[]> {
  return (await walkDir(srcDir, { exclude: isIgnoredSource })).filter((e) => !e.dir).map((e) => e.path);
}

/** `salt` covers build inputs that are not files (builder version, lang override). */
export async function hashSource(srcDir: string, salt = ''): Promise<string> {
  const h = createHash('sha256');
  h.update(`trellis-build-v1\u0000${salt}\u0000`);
  for (const rel of await listSourceFiles(srcDir)) {
    const fileHash = createHash('sha256').update(await fs.readFile(join(srcDir, rel))).digest('hex');
    h.update(`${rel}\u0000${fileHash}\n`);
  }
  return h.digest('hex');
}
