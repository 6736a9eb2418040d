/**
 * The bundle manifest: what a built function is and how to run it. Written by the build
 * pipeline as `trellis-bundle.json` at the root of every bundle; read by the runtime.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeName } from '../types.js';

export const MANIFEST_FILE = 'trellis-bundle.json';

/** Languages `trellis fn new --lang` and stack.yml `lang` know. */
export type FunctionLang = 'node' | 'typescript' | 'python3' | 'bash';
export const LANGS: readonly FunctionLang[] = ['node', 'typescript', 'python3', 'bash'];

export interface BundleManifest {
  formatVersion: 1;
  lang: FunctionLang;
  runtime: RuntimeName;
  mode: 'http' | 'classic';
  /** Entry file relative to the bundle root (http mode). */
  handler?: string;
  /** Command forked per request (classic mode), run in the instance's working directory. */
  envProcess?: string;
  /** sha256 over the source files; also the bundle id the build produces. */
  sourceHash: string;
  builtAt: string;
}

export function readManifest(bundleDir: string): BundleManifest {
  const file = join(bundleDir, MANIFEST_FILE);
  let raw: string;
  try { raw = readFileSync(file, 'utf8'); } catch { throw new Error(`bundle at ${bundleDir} has no ${MANIFEST_FILE}`); }
  const m = JSON.parse(raw) as BundleManifest;
  if (m.formatVersion !== 1 || !m.runtime) throw new Error(`${file} is not a Trellis bundle manifest`);
  return m;
}

/** Maps stack.yml / CLI language names (and a few aliases) to ours. */
export function normaliseLang(lang: string): FunctionLang {
  const l = lang.trim().toLowerCase();
  if (l === 'node' || l === 'node20' || l === 'node18' || l === 'javascript' || l === 'js') return 'node';
  if (l === 'typescript' || l === 'ts' || l === 'node-typescript') return 'typescript';
  if (l === 'python3' || l === 'python' || l === 'python3-http' || l === 'py') return 'python3';
  if (l === 'bash' || l === 'sh' || l === 'shell' || l === 'classic') return 'bash';
  throw new Error(`unknown lang "${lang}"; expected one of ${LANGS.join(', ')}`);
}
