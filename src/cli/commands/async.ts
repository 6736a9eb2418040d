/**
 * `trellis async ls|get|retry`: the async queue's calls and dead letters, over the gateway's
 * /system/async API. Gateway: --gateway, else TRELLIS_GATEWAY / OPENFAAS_URL, else
 * http://127.0.0.1:8080; credentials as for `trellis fn` (`trellis login` or TRELLIS_PASSWORD).
 */
import type { Command } from 'commander';
import { GatewayClient, loadCredentials, resolveGateway } from '../client/index.js';
import { AsyncClient, resultBody, type AsyncCallView } from '../../faas/queue/client.js';

interface Opts { gateway?: string; json?: boolean }

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');

function client(o: Opts): AsyncClient {
  const url = resolveGateway(o.gateway);
  return new AsyncClient(url, loadCredentials(url));
}

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'dead'];

export function registerAsync(program: Command): void {
  const cmd = program.command('async').description('async invocations: list, inspect and re-drive (dead letters)');

  cmd.command('ls').description('list async calls (newest last); --status dead lists the dead-letter queue')
    .option('-g, --gateway <url>', 'gateway URL')
    .option('-s, --status <status>', `only calls in this state (${STATUSES.join('|')})`)
    .option('-n, --limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (o: Opts & { status?: string; limit: string }) => {
      if (o.status && !STATUSES.includes(o.status)) throw new Error(`--status must be one of ${STATUSES.join(', ')}`);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit must be a positive integer');
      const list = await client(o).list({ ...(o.status ? { status: o.status } : {}), limit });
      if (o.json) { out(JSON.stringify(list, null, 2)); return; }
      out(table(list));
    });

  cmd.command('get').description('show one async call: state, attempts, timestamps, result')
    .argument('<callId>')
    .option('-g, --gateway <url>', 'gateway URL')
    .option('--json', 'print JSON')
    .option('--body', 'print only the result body (raw bytes)')
    .action(async (callId: string, o: Opts & { body?: boolean }) => {
      const v = await client(o).get(callId);
      if (!v) throw new Error(`no async call "${callId}"`);
      if (o.body) { process.stdout.write(resultBody(v)); return; }
      if (o.json) { out(JSON.stringify(v, null, 2)); return; }
      out(describe(v));
    });

  cmd.command('worker')
    .description('run a standalone queue-worker (like OpenFaaS\' queue-worker): takes jobs from the shared queue ' +
      '(TRELLIS_NATS_URL, or --data-dir for sqlite) and invokes them through the gateway\'s /function/ route')
    .option('-g, --gateway <url>', 'gateway URL')
    .option('--data-dir <dir>', 'sqlite driver: the gateway\'s data directory (one machine only)')
    .action(async (o: Opts & { dataDir?: string }) => {
      const url = resolveGateway(o.gateway);
      const creds = loadCredentials(url);
      const queueMod = await import('../../faas/queue/index.js');
      const config = queueMod.asyncConfigFromEnv(process.env, o.dataDir ?? '');
      if (config.driver === 'sqlite' && !o.dataDir) throw new Error('set TRELLIS_NATS_URL (nats driver) or --data-dir (sqlite driver)');
      const queue = await queueMod.openQueue(config);
      const gw = new GatewayClient(url, creds);
      const meta = new Map<string, { at: number; value: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined }>();
      const invoke = queueMod.createHttpInvoker(url, creds
        ? { headers: { authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` } } : {});
      const worker = new queueMod.QueueWorker({
        queue, invoke, log: (l) => process.stderr.write(l + '\n'),
        // Labels/annotations for per-function retry settings, cached for 5 s.
        functionMeta: async (fn) => {
          const hit = meta.get(fn);
          if (hit && Date.now() - hit.at < 5000) return hit.value;
          const st = await gw.get(fn).catch(() => undefined);
          const value = st ? { labels: st.labels, annotations: st.annotations } : undefined;
          meta.set(fn, { at: Date.now(), value });
          return value;
        },
        ...(config.maxInflight ? { maxInflight: config.maxInflight } : {}),
        ...(config.maxInflightPerFunction ? { maxInflightPerFunction: config.maxInflightPerFunction } : {}),
        ...(config.retry ? { retry: config.retry } : {}), ...(config.callback ? { callback: config.callback } : {}),
        ...(config.ackWaitMs ? { ackWaitMs: config.ackWaitMs } : {}),
      });
      worker.start();
      out(`trellis async worker: ${config.driver} queue, invoking through ${url}`);
      const stop = async () => { await worker.stop(10_000); await queue.close(); await invoke.close(); process.exit(0); };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });

  cmd.command('retry').description('re-drive a dead (or failed) call with a fresh attempt budget')
    .argument('<callId>')
    .option('-g, --gateway <url>', 'gateway URL')
    .action(async (callId: string, o: Opts) => {
      await client(o).retry(callId);
      out(`${callId} queued again`);
    });
}

function table(list: AsyncCallView[]): string {
  const rows = [['CALL ID', 'FUNCTION', 'STATUS', 'ATTEMPTS', 'ENQUEUED', 'LAST ERROR']];
  for (const v of list) rows.push([v.callId, v.function, v.status, `${v.attempts}/${v.maxAttempts}`, v.enqueuedAt, v.lastError ?? '']);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

function describe(v: AsyncCallView): string {
  const lines = [
    `Call ID:      ${v.callId}`, `Function:     ${v.function}`, `Status:       ${v.status}`,
    `Attempts:     ${v.attempts}/${v.maxAttempts}`, `Enqueued:     ${v.enqueuedAt}`,
  ];
  if (v.startedAt) lines.push(`Started:      ${v.startedAt}`);
  if (v.finishedAt) lines.push(`Finished:     ${v.finishedAt}`);
  if (v.nextAttemptAt) lines.push(`Next attempt: ${v.nextAttemptAt}`);
  if (v.callbackUrl) {
    const c = v.callback;
    const why = c?.status === 'failed' && c.lastError ? `: ${c.lastError}` : '';
    const how = c ? ` (${c.status} after ${c.attempts} attempt${c.attempts === 1 ? '' : 's'}${why})` : '';
    lines.push(`Callback:     ${v.callbackUrl}${how}`);
  }
  if (v.lastError) lines.push(`Last error:   ${v.lastError}`);
  if (v.result) {
    lines.push(`Result:       HTTP ${v.result.statusCode} in ${v.result.durationSeconds.toFixed(3)} s`);
    lines.push(v.result.bodyEncoding === 'utf8' ? v.result.body : `(binary body, ${resultBody(v).length} bytes; use --body)`);
  }
  return lines.join('\n');
}
