#!/usr/bin/env node
// The `trellis` CLI. Runs the compiled build; `npm run build` produces dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`trellis: ${entry} is missing; run "npm run build" first\n`);
  process.exit(1);
}
await import(entry);
