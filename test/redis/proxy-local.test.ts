/**
 * What the proxy answers itself, and its error texts: Redis' own wording for unknown commands
 * and wrong argument counts (the connection stays usable), and `-ERR Protocol error` closing
 * only the offending client. Raw sockets and redis-cli, so nothing is hidden by a client library.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { proxyFixture, rawExchange } from './proxy-helpers.js';

const run = promisify(execFile);

test('local commands: PING, ECHO, SELECT, CLIENT SETNAME/GETNAME, HELLO, COMMAND, QUIT', async (t) => {
  const f = await proxyFixture(t, 2);
  const c = f.client();
  assert.equal(await c.ping(), 'PONG');
  assert.equal(await c.ping('hi there'), 'hi there');
  assert.equal(await c.echo('x\r\ny'), 'x\r\ny');
  assert.equal(await c.select(0), 'OK');
  assert.equal(await c.client('SETNAME', 'checkout-svc'), 'OK');
  assert.equal(await c.client('GETNAME'), 'checkout-svc');
  assert.ok(Object.keys(f.proxy.stats().clients_by_name).includes('checkout-svc'), 'the name identifies the caller in stats');
  await assert.rejects(c.client('SETNAME', 'has space'), /ERR Client names cannot contain spaces, newlines or special characters\./);

  const hello = (await c.call('hello', '2')) as unknown[];
  const map = new Map<string, unknown>();
  for (let i = 0; i < hello.length; i += 2) map.set(String(hello[i]), hello[i + 1]);
  assert.equal(map.get('proto'), 2);
  assert.equal(map.get('server'), 'redis');
  assert.equal(typeof map.get('version'), 'string');
  await assert.rejects(c.call('hello', 'x'), /ERR Protocol version is not an integer or out of range/);

  assert.ok(Number(await c.call('command', 'count')) > 200);
  const [info] = (await c.call('command', 'info', 'get')) as unknown[][];
  assert.deepEqual(info.slice(0, 6), ['get', 2, ['readonly', 'fast'], 1, 1, 1]);

  const { stdout } = await run('redis-cli', ['-p', String(f.port), 'ping']);
  assert.equal(stdout.trim(), 'PONG');
  const quit = await rawExchange(f.port, '*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n', () => false);
  assert.equal(quit.text, '+OK\r\n', 'QUIT answers OK, then closes; later requests are not answered');
  assert.ok(quit.closed);
});

test("unknown commands and wrong arity get Redis' own text; the connection stays usable", async (t) => {
  const f = await proxyFixture(t, 2);
  const c = f.client();
  await assert.rejects(c.call('foo', 'a', 'b'), (e: Error) => e.message === "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
  await assert.rejects(c.call('get'), (e: Error) => e.message === "ERR wrong number of arguments for 'get' command");
  await assert.rejects(c.call('get', 'a', 'b'), (e: Error) => e.message === "ERR wrong number of arguments for 'get' command");
  await assert.rejects(c.call('config', 'nope'), (e: Error) => e.message === "ERR unknown subcommand 'nope'. Try CONFIG HELP.");
  await assert.rejects(c.call('mget'), (e: Error) => e.message === "ERR wrong number of arguments for 'mget' command");
  await assert.rejects(c.call('save'), /ERR SAVE is not supported by the proxy/);
  assert.equal(await c.set('still', 'usable'), 'OK');
  assert.equal(await c.get('still'), 'usable');
  assert.ok(f.proxy.stats().splitter.invalid_request >= 2);
});

test('inline commands (telnet style) and pipelines in one packet', async (t) => {
  const f = await proxyFixture(t, 2);
  const r = await rawExchange(f.port, 'PING\r\nSET inl "a b"\r\nGET inl\r\nECHO x\r\n', (s) => s.split('\r\n').length >= 7);
  assert.equal(r.text, '+PONG\r\n+OK\r\n$3\r\na b\r\n$1\r\nx\r\n');
});

test('malformed RESP: -ERR Protocol error, only that client is closed', async (t) => {
  const f = await proxyFixture(t, 2);
  const good = f.client();
  assert.equal(await good.set('k', 'v'), 'OK');
  const bad = await rawExchange(f.port, '*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$x\r\n', () => false);
  assert.equal(bad.text, '+PONG\r\n-ERR Protocol error: invalid bulk length\r\n', 'the earlier request is answered first');
  assert.ok(bad.closed);
  const huge = await rawExchange(f.port, '*1\r\n$999999999999\r\n', () => false);
  assert.match(huge.text, /^-ERR Protocol error: invalid bulk length\r\n$/);
  assert.ok(huge.closed);
  assert.equal(await good.get('k'), 'v', 'other clients are unaffected');
  assert.equal(f.proxy.stats().downstream_cx_protocol_error, 2);
});
