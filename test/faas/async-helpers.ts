/** Shared pieces of the async tests: a gateway process, a callback receiver, submissions. */
import http from 'node:http';
import { Agent, request } from 'undici';
import { ManagedProcess } from '../../src/util/managed-process.js';

export const ADMIN = 'Basic ' + Buffer.from('admin:secret').toString('base64');

/**
 * A real `trellis gateway` process (process provider, activator, async queue from TRELLIS_ASYNC_*
 * env) in its own process group, so kill -9 takes its function instances down with it.
 */
export async function startGatewayProcess(port: number, dataDir: string, env: Record<string, string>): Promise<ManagedProcess> {
  const p = new ManagedProcess(process.execPath, [
    '--import', 'tsx', 'src/cli/main.ts', 'gateway', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--no-warm-pool',
  ], { env: { ...process.env, TRELLIS_ADMIN_PASSWORD: 'secret', ...env }, detached: true });
  // The async routes are mounted before it prints that it listens; wait for that line.
  const deadline = Date.now() + 30_000;
  while (!p.recentOutput().includes('trellis gateway listening on')) {
    if (!p.running || Date.now() > deadline) throw new Error(`gateway process did not get ready:\n${p.recentOutput()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return p;
}

/** kill -9 of the gateway's whole process group (the gateway and its function instances). */
export async function crash(p: ManagedProcess): Promise<void> {
  try { process.kill(-p.proc.pid!, 'SIGKILL'); } catch { /* already gone */ }
  await p.waitExit();
}

/** Stops a gateway process group (graceful, then kill). */
export async function stopGroup(p: ManagedProcess): Promise<void> {
  if (p.running) await p.stop(3000);
  try { process.kill(-p.proc.pid!, 'SIGKILL'); } catch { /* gone */ }
}

/** Deploys a function (default envProcess for the test provider; the real one forks it per request). */
export async function deploy(gatewayUrl: string, service: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await fetch(`${gatewayUrl}/system/functions`, {
    method: 'POST', headers: { authorization: ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ service, envProcess: 'test-server', ...extra }),
  });
  if (res.status >= 300) throw new Error(`deploy ${service}: ${res.status} ${await res.text()}`);
}

export interface Received { callId: string; status: string; fn: string; duration: string; startTime: string; contentType?: string; body: string }

/** An HTTP server that records every callback it receives. */
export async function startReceiver(): Promise<{ url: string; calls: Received[]; close(): Promise<void> }> {
  const calls: Received[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      calls.push({
        callId: String(req.headers['x-call-id']), status: String(req.headers['x-function-status']),
        fn: String(req.headers['x-function-name']), duration: String(req.headers['x-duration-seconds']),
        startTime: String(req.headers['x-start-time']), contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString(),
      });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/cb`, calls,
    close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
  };
}

/** Submits n async jobs (bodies `job-<i>`), spread over the given gateways; returns call ids by index. */
export async function submit(gateways: string[], fnPath: string, n: number, callbackUrl: string, concurrency = 32): Promise<string[]> {
  const agent = new Agent({ connections: concurrency });
  const ids: string[] = new Array(n);
  let next = 0;
  const one = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      for (let tries = 0; ; tries++) {
        const res = await request(`${gateways[i % gateways.length]}/async-function/${fnPath}`, {
          method: 'POST', dispatcher: agent, body: `job-${i}`,
          headers: { 'content-type': 'text/plain', 'x-callback-url': callbackUrl, 'x-idempotency-key': `job-${i}` },
        });
        await res.body.dump();
        if (res.statusCode === 202) { ids[i] = String(res.headers['x-call-id']); break; }
        if (tries > 50) throw new Error(`submit job-${i}: HTTP ${res.statusCode}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
  await agent.close();
  return ids;
}

export async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
