/**
 * What an idle pooled node watchdog runs before any function is loaded, so specialising it
 * later costs little more than importing the handler: it warms the dynamic-import path
 * (file URL resolution, ESM translation) and node's HTTP server/client code (parser, header
 * writing) with a throwaway loopback server. Loaded with `--import` through NODE_OPTIONS,
 * which it removes at once so the function's own child processes never inherit it.
 * Plain JavaScript (written to the run directory) so it also works when the watchdog runs
 * from TypeScript sources.
 */
export const WARMUP_FILE = 'trellis_pool_warmup.mjs';
export const WARMUP_MODULE_FILE = 'trellis_pool_warmup_module.mjs';

export const WARMUP_SOURCE = String.raw`
delete process.env.NODE_OPTIONS;
import http from 'node:http';
const target = new URL('./${WARMUP_MODULE_FILE}', import.meta.url).href;
setTimeout(async () => {
  try {
    for (let i = 0; i < 3; i++) await import(target + '?warm=' + i);
    const srv = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.from(JSON.stringify({ ok: true, n: Buffer.concat(chunks).length, q: new URLSearchParams(req.url.split('?')[1] || '').get('x') }));
        res.setHeader('content-type', 'application/json');
        res.writeHead(200, { 'content-length': body.length });
        res.end(body);
      });
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const port = srv.address().port;
    const agent = new http.Agent({ keepAlive: true });
    for (let i = 0; i < 30; i++) {
      await new Promise((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, method: i % 2 ? 'POST' : 'GET', path: '/warm?x=' + i, agent: i % 3 ? agent : false,
          headers: { 'content-type': 'application/json' } }, (res) => { res.resume(); res.on('end', resolve); });
        req.on('error', resolve);
        req.end(i % 2 ? '{"warm":true}' : undefined);
      });
    }
    agent.destroy();
    srv.close();
    srv.closeAllConnections();
  } catch { /* warming is best effort */ }
}, 10);
`;

/**
 * The throwaway handler: imported by the warm-up above, then by the watchdog's rehearsal
 * (`warm` on its channel), which asks for every result shape by path (watchdog/main.ts).
 */
export const WARMUP_MODULE_SOURCE = `export default async (req) => {
  switch (req && req.path) {
    case '/text': return 'warm ' + req.path;
    case '/json': return { warm: true, query: req.query, body: req.json() };
    case '/bytes': return Buffer.from(req.text());
    default: return { status: 200, headers: { 'x-warm': '1' }, body: JSON.stringify({ warm: true, path: req && req.path }) };
  }
};
`;
