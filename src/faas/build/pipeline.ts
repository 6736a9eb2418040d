/**
 * The build pipeline (Tekton's role, small): source dir → runnable bundle.
 * Steps: detect → copy sources → install dependencies → compile TypeScript → write manifest.
 * Each step prints a progress line (`[3/5] install dependencies ... 1.2s`) and streams its
 * own output line by line. A bundle is keyed by the source's content hash, so an unchanged
 * source is not rebuilt (`cached: true`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { detectSource, type Detected } from './detect.js';
import { MANIFEST_FILE, normaliseLang, readManifest, type BundleManifest } from './manifest.js';
import { hashSource, listSourceFiles } from './source-hash.js';
import { compileTypeScript } from './typescript.js';

export interface BuildOptions {
  /** Where bundles live: <cacheDir>/<sourceHash>/. */
  cacheDir: string;
  /** Progress and step output, one line per call. */
  onLog?: (line: string) => void;
  /** stack.yml `lang` (otherwise detected from the files). */
  lang?: string;
  /** Entry file relative to srcDir (otherwise detected). */
  handler?: string;
  /** Rebuild even when a bundle for this source exists. */
  force?: boolean;
}

export interface BuildResult {
  bundleId: string;
  bundleDir: string;
  manifest: BundleManifest;
  cached: boolean;
  durationMs: number;
}

interface Ctx { srcDir: string; stage: string; detected: Detected; log: (l: string) => void; manifest: Partial<BundleManifest> }

interface Step { name: string; run(ctx: Ctx): Promise<string | void> }

const STEPS: Step[] = [
  { name: 'copy sources', run: copySources },
  { name: 'install dependencies', run: installDependencies },
  { name: 'compile typescript', run: compileStep },
  { name: 'write manifest', run: writeManifest },
];

export async function buildFunction(srcDir: string, opts: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const log = opts.onLog ?? (() => {});
  const total = STEPS.length + 1;
  if (!existsSync(srcDir) || !(await fs.stat(srcDir)).isDirectory()) throw new Error(`build: ${srcDir} is not a directory`);

  let t = Date.now();
  const detected = detectSource(srcDir, { lang: opts.lang, handler: opts.handler });
  const bundleId = await hashSource(srcDir, `${detected.lang}:${detected.entry}`);
  const bundleDir = join(opts.cacheDir, bundleId);
  log(`[1/${total}] detect runtime ... ${secs(t)} (${detected.lang}, ${detected.reason}, source ${bundleId.slice(0, 12)})`);

  if (!opts.force && existsSync(join(bundleDir, MANIFEST_FILE))) {
    log(`cached: source unchanged, bundle ${bundleId.slice(0, 12)} reused`);
    return { bundleId, bundleDir, manifest: readManifest(bundleDir), cached: true, durationMs: Date.now() - started };
  }

  await fs.mkdir(opts.cacheDir, { recursive: true });
  const stage = join(opts.cacheDir, `.stage-${bundleId.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(stage, { recursive: true });
  const ctx: Ctx = { srcDir, stage, detected, log, manifest: { sourceHash: bundleId } };
  try {
    for (let i = 0; i < STEPS.length; i++) {
      t = Date.now();
      const step = STEPS[i];
      let note: string | void;
      try { note = await step.run(ctx); }
      catch (e) {
        log(`[${i + 2}/${total}] ${step.name} ... failed after ${secs(t)}`);
        throw new Error(`build step "${step.name}" failed: ${(e as Error).message}`);
      }
      log(`[${i + 2}/${total}] ${step.name} ... ${note ? `skipped (${note})` : secs(t)}`);
    }
    await fs.rm(bundleDir, { recursive: true, force: true });
    await fs.rename(stage, bundleDir);
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
  const manifest = readManifest(bundleDir);
  log(`built bundle ${bundleId} in ${secs(started)}`);
  return { bundleId, bundleDir, manifest, cached: false, durationMs: Date.now() - started };
}

function secs(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(2)}s`;
}

async function copySources(ctx: Ctx): Promise<void> {
  for (const rel of await listSourceFiles(ctx.srcDir)) {
    const to = join(ctx.stage, rel);
    await fs.mkdir(dirname(to), { recursive: true });
    await fs.copyFile(join(ctx.srcDir, rel), to);
  }
}

async function installDependencies(ctx: Ctx): Promise<string | void> {
  const { lang } = ctx.detected;
  if (lang === 'node' || lang === 'typescript') {
    const pkgFile = join(ctx.stage, 'package.json');
    if (!existsSync(pkgFile)) return 'no package.json';
    const pkg = JSON.parse(await fs.readFile(pkgFile, 'utf8')) as { dependencies?: Record<string, string> };
    if (!pkg.dependencies || Object.keys(pkg.dependencies).length === 0) return 'no dependencies';
    const args = existsSync(join(ctx.stage, 'package-lock.json'))
      ? ['ci', '--omit=dev', '--no-audit', '--no-fund']
      : ['install', '--omit=dev', '--no-audit', '--no-fund'];
    await runStreamed('npm', args, ctx.stage, ctx.log);
    return;
  }
  if (lang === 'python3') {
    if (!existsSync(join(ctx.stage, 'requirements.txt'))) return 'no requirements.txt';
    await runStreamed('python3', ['-m', 'pip', 'install', '--disable-pip-version-check', '-r', 'requirements.txt', '--target', '.python_packages'], ctx.stage, ctx.log);
    return;
  }
  return `nothing to install for ${lang}`;
}

async function compileStep(ctx: Ctx): Promise<string | void> {
  if (ctx.detected.lang !== 'typescript') return `${ctx.detected.lang} needs no compile`;
  const n = await compileTypeScript(ctx.stage, ctx.log);
  ctx.log(`  | compiled ${n} file(s)`);
}

async function writeManifest(ctx: Ctx): Promise<void> {
  const { lang, entry } = ctx.detected;
  const handler = lang === 'typescript' ? entry.replace(/\.(c|m)?ts$/, (_m, k: string | undefined) => `.${k ?? ''}js`) : entry;
  const manifest: BundleManifest = {
    formatVersion: 1,
    lang: normaliseLang(lang),
    runtime: lang === 'python3' ? 'python3' : lang === 'bash' ? 'command' : 'node',
    mode: lang === 'bash' ? 'classic' : 'http',
    ...(lang === 'bash' ? { envProcess: `bash ${entry}` } : { handler }),
    sourceHash: ctx.manifest.sourceHash ?? '',
    builtAt: new Date().toISOString(),
  };
  await fs.writeFile(join(ctx.stage, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
}

/** Runs a command, streaming its stdout/stderr line by line; rejects on non-zero exit. */
export function runStreamed(cmd: string, args: string[], cwd: string, log: (l: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const lines = (prefix: string) => {
      let rest = '';
      return (b: Buffer) => {
        rest += b.toString();
        const parts = rest.split('\n');
        rest = parts.pop() ?? '';
        for (const p of parts) if (p.trim()) log(`  ${prefix} ${p}`);
      };
    };
    child.stdout.on('data', lines('|'));
    child.stderr.on('data', lines('|'));
    child.once('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.once('exit', (code, sig) => code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? sig}`)));
  });
}
