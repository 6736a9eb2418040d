/**
 * faas-cli style stack files:
 *
 *   version: 1.0
 *   provider: { name: openfaas, gateway: http://127.0.0.1:8080 }
 *   functions:
 *     hello:
 *       lang: node            # node | typescript | python3 | bash
 *       handler: ./hello      # source directory, relative to the stack file
 *       environment: { KEY: value }
 *       labels: {...}  annotations: {...}  secrets: [name]  limits: { memory: 128Mi }
 *       fprocess: cat         # classic functions without code need no handler
 *       timeout: 10s          # Trellis: exec timeout;  concurrency: 4  # Trellis: max in-flight
 *
 * `${VAR}` and `${VAR:-default}` are substituted from the environment, as faas-cli does.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

export interface StackFunction {
  name: string;
  lang?: string;
  /** Absolute source directory. */
  handlerDir?: string;
  environment: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  secrets: string[];
  limits?: { memory?: string; cpu?: string };
  requests?: { memory?: string; cpu?: string };
  fprocess?: string;
  timeout?: string | number;
  concurrency?: number;
}

export interface Stack { file: string; gateway?: string; functions: StackFunction[] }

export function substituteEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def: string | undefined) => env[name] ?? def ?? '');
}

function strMap(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: expected a map`);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
}

export function readStack(file: string): Stack {
  let doc: unknown;
  try { doc = parse(substituteEnv(readFileSync(file, 'utf8'))); }
  catch (e) { throw new Error(`cannot read ${file}: ${(e as Error).message}`); }
  if (!doc || typeof doc !== 'object') throw new Error(`${file}: not a stack file`);
  const d = doc as { provider?: { gateway?: string }; functions?: Record<string, Record<string, unknown>> };
  if (!d.functions || typeof d.functions !== 'object') throw new Error(`${file}: no "functions" section`);
  const base = dirname(resolve(file));
  const functions = Object.entries(d.functions).map(([name, f]): StackFunction => {
    const where = `${file}: functions.${name}`;
    if (!f || typeof f !== 'object') throw new Error(`${where}: expected a map`);
    const secrets = f.secrets ?? [];
    if (!Array.isArray(secrets)) throw new Error(`${where}.secrets: expected a list`);
    const fn: StackFunction = {
      name,
      lang: f.lang !== undefined ? String(f.lang) : undefined,
      handlerDir: f.handler !== undefined ? resolve(base, String(f.handler)) : undefined,
      environment: strMap(f.environment, `${where}.environment`),
      labels: strMap(f.labels, `${where}.labels`),
      annotations: strMap(f.annotations, `${where}.annotations`),
      secrets: secrets.map(String),
      fprocess: f.fprocess !== undefined ? String(f.fprocess) : undefined,
    };
    if (f.limits) fn.limits = strMap(f.limits, `${where}.limits`);
    if (f.requests) fn.requests = strMap(f.requests, `${where}.requests`);
    if (f.timeout !== undefined) fn.timeout = typeof f.timeout === 'number' ? f.timeout : String(f.timeout);
    if (f.concurrency !== undefined) fn.concurrency = Number(f.concurrency);
    if (!fn.handlerDir && !fn.fprocess) throw new Error(`${where}: needs "handler" (source directory) or "fprocess"`);
    return fn;
  });
  return { file, gateway: d.provider?.gateway, functions };
}
