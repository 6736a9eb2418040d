import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The package version, read from package.json two or three folders up (src/ or dist/). */
export function readPackageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try { return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version as string; } catch { dir = dirname(dir); }
  }
  return '0.0.0';
}
