/** Function templates (`trellis fn new NAME --lang L`): copied from <package>/templates/<lang>/. */
import { existsSync, promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normaliseLang } from '../../faas/build/manifest.js';

/** The package root: three levels up from src/cli/client/ or dist/cli/client/. */
export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export function templatesDir(): string { return join(packageRoot(), 'templates'); }

export async function listTemplates(): Promise<string[]> {
  return (await fs.readdir(templatesDir(), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

/** Copies the template into <parent>/<name>/, replacing __NAME__; refuses to overwrite. */
export async function createFromTemplate(name: string, lang: string, parent: string): Promise<{ dir: string; lang: string; files: string[] }> {
  const l = normaliseLang(lang);
  const from = join(templatesDir(), l);
  if (!existsSync(from)) throw new Error(`no template for lang "${l}" in ${templatesDir()}`);
  const dir = join(parent, name);
  if (existsSync(dir)) throw new Error(`${dir} already exists`);
  const files: string[] = [];
  const copy = async (rel: string): Promise<void> => {
    for (const e of await fs.readdir(join(from, rel), { withFileTypes: true })) {
      const r = rel ? join(rel, e.name) : e.name;
      if (e.isDirectory()) { await fs.mkdir(join(dir, r), { recursive: true }); await copy(r); continue; }
      const text = (await fs.readFile(join(from, r), 'utf8')).replaceAll('__NAME__', name);
      const st = await fs.stat(join(from, r));
      await fs.writeFile(join(dir, r), text, { mode: st.mode & 0o777 });
      files.push(r);
    }
  };
  await fs.mkdir(dir, { recursive: true });
  await copy('');
  return { dir, lang: l, files };
}

/** Adds the function to stack.yml (created when missing), faas-cli style. */
export async function addToStack(stackFile: string, name: string, lang: string, gateway: string): Promise<void> {
  const { parseDocument } = await import('yaml');
  const text = existsSync(stackFile) ? await fs.readFile(stackFile, 'utf8')
    : `version: 1.0\nprovider:\n  name: openfaas\n  gateway: ${gateway}\nfunctions: {}\n`;
  const doc = parseDocument(text);
  if (doc.hasIn(['functions', name])) throw new Error(`${stackFile} already has a function "${name}"`);
  if (!doc.has('functions') || doc.get('functions') === null) doc.set('functions', doc.createNode({}));
  doc.setIn(['functions', name], doc.createNode({ lang, handler: `./${name}` }));
  const fns = doc.get('functions', true) as { flow?: boolean; items?: { value?: { flow?: boolean } }[] };
  fns.flow = false; // block style, like faas-cli writes it
  for (const item of fns.items ?? []) if (item.value) item.value.flow = false;
  await fs.writeFile(stackFile, doc.toString());
}
