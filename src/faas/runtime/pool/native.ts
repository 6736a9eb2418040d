/**
 * Whether a bundle needs a fresh process: native addons (`.node` files under node_modules,
 * CPython extension modules `.so`/`.pyd`), or a manifest that says so (`nativeModules: true`).
 * The answer is cached per bundle directory (bundles are immutable, keyed by content hash).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const cache = new Map<string, boolean>();
const MAX_ENTRIES = 50_000;

export function bundleHasNativeModules(bundleDir: string): boolean {
  const hit = cache.get(bundleDir);
  if (hit !== undefined) return hit;
  let native = manifestFlag(bundleDir);
  if (!native) native = scan(bundleDir);
  cache.set(bundleDir, native);
  return native;
}

function manifestFlag(dir: string): boolean {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'trellis-bundle.json'), 'utf8')) as { nativeModules?: unknown };
    return m.nativeModules === true;
  } catch { return false; }
}

function scan(root: string): boolean {
  const stack = [root];
  let seen = 0;
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { continue; }
    for (const e of entries) {
      if (++seen > MAX_ENTRIES) return true; // too big to be sure: be safe, start fresh
      if (e.isDirectory()) stack.push(join(dir, e.name));
      else if (/\.(node|so|pyd)$/.test(e.name)) return true;
    }
  }
  return false;
}
