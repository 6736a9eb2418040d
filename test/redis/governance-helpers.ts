/** Small helpers shared by the governance tests (raw RESP exchange, polling). */
import net from 'node:net';

/** Sends raw RESP lines and returns the raw reply text after `expectReplies` replies (simple/error/int/bulk only). */
export async function raw(port: number, lines: string[][]): Promise<string[]> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const out: string[] = [];
  let buf = '';
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const m = /^([+\-:][^\r]*\r\n|\$-1\r\n|\$(\d+)\r\n)/.exec(buf);
        if (!m) break;
        if (m[2] !== undefined) {
          const len = Number(m[2]);
          const total = m[0].length + len + 2;
          if (buf.length < total) break;
          out.push(buf.slice(m[0].length, m[0].length + len));
          buf = buf.slice(total);
        } else {
          out.push(m[0].trimEnd());
          buf = buf.slice(m[0].length);
        }
        if (out.length === lines.length) { resolve(); return; }
      }
    });
    sock.on('error', reject);
  });
  sock.write(lines.map((l) => `*${l.length}\r\n${l.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`).join(''));
  await done;
  sock.destroy();
  return out;
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
