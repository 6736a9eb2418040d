/**
 * Compiles a bundle's TypeScript with the project's own `typescript` package (no network,
 * no type check: syntax errors fail the build, type errors are the editor's job).
 * Output module format follows the bundle's package.json like Node does: `"type": "module"`
 * (or no package.json, which then gets one) → ESM, otherwise CommonJS.
 */
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { walkDir } from './tar.js';

export async function compileTypeScript(dir: string, log: (l: string) => void): Promise<number> {
  const ts = (await import('typescript')).default;
  const pkgFile = join(dir, 'package.json');
  let esm = true;
  if (existsSync(pkgFile)) esm = (JSON.parse(await fs.readFile(pkgFile, 'utf8')) as { type?: string }).type === 'module';
  else await fs.writeFile(pkgFile, JSON.stringify({ type: 'module', private: true }, null, 2) + '\n');

  const files = (await walkDir(dir, { exclude: (rel, isDir) => isDir && rel.split('/').pop() === 'node_modules' }))
    .filter((e) => !e.dir && /\.(c|m)?ts$/.test(e.path) && !/\.d\.(c|m)?ts$/.test(e.path));
  const errors: string[] = [];
  for (const f of files) {
    const source = await fs.readFile(join(dir, f.path), 'utf8');
    const out = ts.transpileModule(source, {
      fileName: f.path,
      reportDiagnostics: true,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: esm || f.path.endsWith('.mts') ? ts.ModuleKind.ESNext : ts.ModuleKind.CommonJS,
        esModuleInterop: true,
        sourceMap: false,
      },
    });
    for (const d of out.diagnostics ?? []) {
      const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      errors.push(`${f.path}${pos ? `:${pos.line + 1}:${pos.character + 1}` : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
    const outPath = join(dir, f.path.replace(/\.(c|m)?ts$/, (_m, k: string | undefined) => `.${k ?? ''}js`));
    await fs.writeFile(outPath, out.outputText);
    log(`  | ${f.path} -> ${outPath.slice(dir.length + 1)}`);
  }
  if (errors.length) throw new Error(errors.slice(0, 10).join('\n'));
  return files.length;
}
