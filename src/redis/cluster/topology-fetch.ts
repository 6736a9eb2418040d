/**
 * Asks one cluster node for the topology on a short-lived connection of its own (so a slow
 * refresh never sits in front of client traffic): `CLUSTER SHARDS`, falling back to
 * `CLUSTER SLOTS` when the server predates Redis 7.
 */
import net from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import { decodeReply, encodeCommand, ReplyScanner, type RespValue } from '../../resp/index.js';
import { parseClusterShards, parseClusterSlots, type ShardTopology } from './topology.js';

const SHARDS = encodeCommand(['CLUSTER', 'SHARDS']);
const SLOTS_CMD = encodeCommand(['CLUSTER', 'SLOTS']);

/** Sends the commands in order on one connection and resolves with their decoded replies. */
function ask(host: string, port: number, commands: Buffer[], timeoutMs: number, tlsOpts?: ConnectionOptions): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const sock = tlsOpts ? tls.connect({ ...tlsOpts, host, port }) : net.connect({ host, port });
    const scanner = new ReplyScanner({ maxBulkBytes: 64 * 1024 * 1024, maxArrayLength: 1 << 24 });
    const replies: RespValue[] = [];
    const done = (err: Error | null) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(() => done(new Error(`${host}:${port}: no topology reply within ${timeoutMs} ms`)), timeoutMs);
    sock.setNoDelay(true);
    sock.on(tlsOpts ? 'secureConnect' : 'connect', () => sock.write(Buffer.concat(commands)));
    sock.on('data', (chunk) => {
      try {
        scanner.feed(chunk);
        let f: Buffer | null;
        while ((f = scanner.nextFrame()) !== null) {
          replies.push(decodeReply(f));
          if (replies.length === commands.length) return done(null);
        }
      } catch (err) {
        done(err as Error);
      }
    });
    sock.on('error', (err) => done(new Error(`${host}:${port}: ${err.message}`)));
    sock.on('close', () => done(new Error(`${host}:${port}: connection closed before the topology reply`)));
  });
}

/**
 * The topology as `host:port` sees it. `prefix` (e.g. an AUTH command) is sent first and its
 * reply must not be an error.
 */
export async function fetchTopology(host: string, port: number, timeoutMs: number, prefix?: Buffer, tlsOpts?: ConnectionOptions): Promise<ShardTopology[]> {
  const pre = prefix ? [prefix] : [];
  const replies = await ask(host, port, [...pre, SHARDS], timeoutMs, tlsOpts);
  if (prefix && replies[0].type === 'error') throw new Error(`${host}:${port}: ${replies[0].value}`);
  const r = replies[replies.length - 1];
  if (r.type === 'error' && /unknown (sub)?command|syntax/i.test(r.value)) {
    const old = await ask(host, port, [...pre, SLOTS_CMD], timeoutMs, tlsOpts);
    return parseClusterSlots(old[old.length - 1]);
  }
  if (r.type === 'error') throw new Error(`${host}:${port}: ${r.value}`);
  return parseClusterShards(r);
}
