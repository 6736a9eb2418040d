/**
 * TLS on the listener and towards backends: certificates made here with openssl, a real
 * redis-server with --tls-port (and a password), an ioredis TLS client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { getFreePort, startRedis } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';

function makeCert(t: { after(fn: () => unknown): void }): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { dir, cert, key };
}

test('TLS client → proxy → TLS backend (with upstream AUTH); a plain-text client cannot talk to the TLS listener', async (t) => {
  const { cert, key } = makeCert(t);
  const tlsPort = await getFreePort();
  const backend = await startRedis(t, {
    port: tlsPort,
    args: ['--port', '0', '--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key,
      '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no', '--requirepass', 'tls-pass'],
  });
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: [backend.address],
    governance: {
      tls: { cert_file: cert, key_file: key },
      upstream_tls: { ca_file: cert },
      upstream_auth: { password: 'tls-pass' },
      auth: { passwords: ['client-pass'] },
    },
  });
  t.after(() => proxy.close(0));
  const port = proxy.address().port;
  const c = new Redis({ port, host: '127.0.0.1', password: 'client-pass', tls: { ca: readFileSync(cert) }, lazyConnect: true, maxRetriesPerRequest: 0 });
  t.after(() => c.disconnect());
  await c.connect();
  assert.equal(await c.set('secure', 'yes'), 'OK');
  assert.equal(await c.get('secure'), 'yes');
  const direct = new Redis({ port: tlsPort, host: '127.0.0.1', password: 'tls-pass', tls: { ca: readFileSync(cert) }, lazyConnect: true });
  await direct.connect();
  t.after(() => direct.disconnect());
  assert.equal(await direct.get('secure'), 'yes', 'written to the backend over TLS');

  // Plain RESP on the TLS port: no Redis reply comes back, the connection is closed.
  const plain = net.connect(port, '127.0.0.1');
  plain.write('*1\r\n$4\r\nPING\r\n');
  const got = await new Promise<string>((resolve) => { let b = ''; plain.on('data', (d) => { b += d; }); plain.on('close', () => resolve(b)); plain.on('error', () => resolve(b)); });
  assert.doesNotMatch(got, /PONG/);
  assert.equal(await c.ping(), 'PONG', 'the bad client did not disturb others');
});
