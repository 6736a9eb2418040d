/** Works out a source directory's language and entry file. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normaliseLang, type FunctionLang } from './manifest.js';

export interface Detected { lang: FunctionLang; entry: string; reason: string }

const CANDIDATES: { file: string; lang: FunctionLang }[] = [
  { file: 'handler.ts', lang: 'typescript' },
  { file: 'index.ts', lang: 'typescript' },
  { file: 'handler.js', lang: 'node' },
  { file: 'handler.mjs', lang: 'node' },
  { file: 'index.js', lang: 'node' },
  { file: 'handler.py', lang: 'python3' },
  { file: 'handler.sh', lang: 'bash' },
];

export function detectSource(srcDir: string, hint?: { lang?: string; handler?: string }): Detected {
  if (hint?.handler && !existsSync(join(srcDir, hint.handler))) throw new Error(`handler "${hint.handler}" not found in ${srcDir}`);
  const wanted = hint?.lang ? normaliseLang(hint.lang) : undefined;
  if (hint?.handler) {
    const lang = wanted ?? langOfFile(hint.handler);
    return { lang, entry: hint.handler, reason: `handler ${hint.handler}` };
  }
  for (const c of CANDIDATES) {
    if (wanted && !(c.lang === wanted || (wanted === 'node' && c.lang === 'node'))) continue;
    if (existsSync(join(srcDir, c.file))) return { lang: c.lang, entry: c.file, reason: `found ${c.file}` };
  }
  const main = packageMain(srcDir);
  if (main && (!wanted || wanted === 'node' || wanted === 'typescript')) {
    return { lang: main.endsWith('.ts') ? 'typescript' : 'node', entry: main, reason: 'package.json main' };
  }
  throw new Error(`cannot tell the language of ${srcDir}${wanted ? ` (lang ${wanted})` : ''}: expected one of ${CANDIDATES.map((c) => c.file).join(', ')} or a package.json "main"`);
}

function langOfFile(file: string): FunctionLang {
  if (file.endsWith('.ts')) return 'typescript';
  if (file.endsWith('.py')) return 'python3';
  if (file.endsWith('.sh')) return 'bash';
  return 'node';
}

function packageMain(srcDir: string): string | undefined {
  const file = join(srcDir, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { main?: string };
    return typeof pkg.main === 'string' && existsSync(join(srcDir, pkg.main)) ? pkg.main : undefined;
  } catch { return undefined; }
}
