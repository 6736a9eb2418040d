/** The client listener: plain TCP, or TLS with certificate files from the config. */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { GovernanceConfig } from '../../config/redis-governance.js';

export function createListener(t: GovernanceConfig['tls'], onSocket: (s: net.Socket) => void): net.Server {
  if (!t) return net.createServer({ noDelay: true }, onSocket);
  const server = tls.createServer({
    cert: readFileSync(t.certFile!),
    key: readFileSync(t.keyFile!),
    ca: t.caFile ? readFileSync(t.caFile) : undefined,
    requestCert: t.requireClientCert,
    rejectUnauthorized: t.requireClientCert,
  }, onSocket);
  // A client failing the handshake must not disturb the listener.
  server.on('tlsClientError', () => {});
  return server;
}
