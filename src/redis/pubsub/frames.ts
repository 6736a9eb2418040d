/** Pub/Sub reply frames the proxy builds itself (RESP2 arrays, RESP3 pushes). */

/** Payload of a `$n\r\n...\r\n` element. */
export function bulkPayload(el: Buffer): Buffer {
  if (el[0] !== 36) return el;
  const lf = el.indexOf(10);
  return el.subarray(lf + 1, el.length - 2);
}

/** `subscribe`/`unsubscribe`-style confirmation: [verb, name|nil, count]. */
export function subscriptionFrame(verb: string, name: Buffer | null, count: number, proto: 2 | 3): Buffer {
  const head = `${proto === 3 ? '>' : '*'}3\r\n$${verb.length}\r\n${verb}\r\n`;
  const n = name === null ? (proto === 3 ? '_\r\n' : '$-1\r\n') : `$${name.length}\r\n`;
  return Buffer.concat([Buffer.from(head + n, 'latin1'), name ?? Buffer.alloc(0), Buffer.from(`${name === null ? '' : '\r\n'}:${count}\r\n`, 'latin1')]);
}

/** PING while subscribed (RESP2): ["pong", message|""]. */
export function subscribedPong(arg: Buffer | null): Buffer {
  const a = arg ?? Buffer.alloc(0);
  return Buffer.concat([Buffer.from(`*2\r\n$4\r\npong\r\n$${a.length}\r\n`), a, Buffer.from('\r\n')]);
}
