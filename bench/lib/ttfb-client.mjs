// Time-to-first-byte probe, run as its own process so the client's work never shares an event
// loop with the server it measures (like curl's time_starttransfer). Reads lines
// "<port> <path>" on stdin; for each, sends `GET <path>` on a kept-alive connection to
// 127.0.0.1:<port> and prints the milliseconds from the write to the first response byte, or
// "error <text>". The whole response is read (Content-Length or chunked) before the next one.
import net from 'node:net';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';

const conns = new Map();

function connect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, noDelay: true });
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** Bytes of a complete response at the start of buf, or 0 when more is needed. */
function responseLength(buf) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return 0;
  const head = buf.toString('latin1', 0, headEnd).toLowerCase();
  const len = /\r\ncontent-length: *(\d+)/.exec(head);
  if (len) return buf.length >= headEnd + 4 + Number(len[1]) ? headEnd + 4 + Number(len[1]) : 0;
  if (/\r\ntransfer-encoding: *chunked/.test(head)) {
    const end = buf.indexOf('\r\n0\r\n\r\n', headEnd);
    return end < 0 ? 0 : end + 7;
  }
  throw new Error('response without Content-Length or chunked body');
}

async function probe(port, path) {
  let sock = conns.get(port);
  if (!sock || sock.destroyed) { sock = await connect(port); conns.set(port, sock); }
  return new Promise((resolve, reject) => {
    let t1 = 0;
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      if (t1 === 0) t1 = performance.now();
      buf = Buffer.concat([buf, d]);
      let n;
      try { n = responseLength(buf); } catch (e) { done(e); return; }
      if (n === 0) return;
      const status = Number(buf.toString('latin1', 9, 12));
      done(status === 200 ? null : new Error(`HTTP ${status}`));
    };
    const onClose = () => done(new Error('connection closed'));
    const done = (err) => {
      sock.off('data', onData);
      sock.off('close', onClose);
      if (err) { sock.destroy(); conns.delete(port); reject(err); } else resolve(t1 - t0);
    };
    sock.on('data', onData);
    sock.once('close', onClose);
    const t0 = performance.now();
    sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  });
}

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const [port, path] = line.trim().split(' ');
  try {
    process.stdout.write(`${(await probe(Number(port), path)).toFixed(3)}\n`);
  } catch (e) {
    process.stdout.write(`error ${e.message}\n`);
  }
}
for (const s of conns.values()) s.destroy();
