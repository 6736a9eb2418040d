/**
 * What runs a request once the watchdog has accepted it: http mode (a handler module loaded
 * once, many requests) or classic mode (fork `envProcess` per request, like OpenFaaS'
 * classic watchdog). A runner writes the response unless the watchdog already answered
 * (exec timeout): then `call.aborted` is set and `call.onAbort` runs.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { splitCommandLine } from './argv.js';
import { loadModule } from './load-module.js';
import type { LoadSpec } from './protocol.js';
import { makeRequest, writeResult, type Handler } from './response.js';

/** One request in flight (a plain object: an AbortController per request costs too much). */
export interface Call {
  aborted: boolean;
  onAbort?: () => void;
  req: IncomingMessage;
  res: ServerResponse;
  /** epoch ms; 0 = no timeout. */
  deadline: number;
}

export interface Runner {
  run(req: IncomingMessage, body: Buffer, res: ServerResponse, call: Call): Promise<void>;
}

export async function loadHttpRunner(spec: LoadSpec): Promise<Runner> {
  if (!spec.handlerPath) throw new Error('http mode needs a handler path');
  const mod = await loadModule(spec.handlerPath);
  let h = mod.default as unknown;
  if (h && typeof h === 'object' && typeof (h as Record<string, unknown>).default === 'function') h = (h as Record<string, unknown>).default;
  if (typeof h !== 'function') h = mod.handle ?? mod.handler;
  if (typeof h !== 'function') throw new Error(`${spec.handlerPath} must export a default function: export default async (req) => response`);
  const handler = h as Handler;
  return {
    async run(req, body, res, call) {
      const out = await handler(makeRequest(req.method ?? 'GET', req.url ?? '/', req.headers, body));
      if (!call.aborted && !res.headersSent) writeResult(res, out);
    },
  };
}

export function classicRunner(spec: LoadSpec, prlimitPath?: string): Runner {
  if (!spec.envProcess) throw new Error('classic mode needs envProcess');
  let argv = splitCommandLine(spec.envProcess);
  if (argv.length === 0) throw new Error('envProcess is empty');
  if (spec.memoryLimitBytes && prlimitPath) argv = [prlimitPath, `--as=${spec.memoryLimitBytes}`, '--', ...argv];
  const [cmd, ...args] = argv;
  return {
    run(req, body, res, call) {
      return new Promise((resolve) => {
        const child = spawn(cmd, args, { cwd: spec.cwd, env: { ...process.env, ...cgiEnv(req) }, stdio: ['pipe', 'pipe', 'inherit'] });
        const chunks: Buffer[] = [];
        call.onAbort = () => child.kill('SIGKILL');
        child.stdout.on('data', (c: Buffer) => chunks.push(c));
        child.stdin.on('error', () => { /* the process did not read its stdin: fine */ });
        child.stdin.end(body);
        let failed = false;
        child.once('error', (e) => {
          failed = true;
          process.stderr.write(`watchdog: cannot start "${cmd}": ${e.message}\n`);
          if (!res.headersSent) plain(res, 500, `cannot start "${cmd}": ${e.message}`);
        });
        child.once('close', (code, sig) => {
          call.onAbort = undefined;
          if (!failed && !call.aborted && !res.headersSent) {
            if (code === 0) {
              const out = Buffer.concat(chunks);
              res.setHeader('content-type', process.env.content_type || req.headers['content-type'] || 'text/plain; charset=utf-8');
              res.setHeader('content-length', out.length);
              res.writeHead(200);
              res.end(out);
            } else {
              plain(res, 500, `${cmd} exited with ${code === null ? `signal ${sig}` : `code ${code}`}`);
            }
          }
          resolve();
        });
      });
    },
  };
}

/** OpenFaaS' cgi_headers: Http_Method, Http_Path, Http_Query, and Http_<Header_Name> per header. */
export function cgiEnv(req: IncomingMessage): Record<string, string> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const env: Record<string, string> = {
    Http_Method: req.method ?? 'GET',
    Http_Path: q === -1 ? url : url.slice(0, q),
    Http_Query: q === -1 ? '' : url.slice(q + 1),
  };
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    const name = k.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('_');
    env[`Http_${name}`] = Array.isArray(v) ? v.join(', ') : v;
  }
  if (req.headers['content-length'] !== undefined) env.Http_ContentLength = req.headers['content-length'];
  return env;
}

export function plain(res: ServerResponse, status: number, text: string): void {
  const b = Buffer.from(text + '\n');
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': b.length });
  res.end(b);
}
