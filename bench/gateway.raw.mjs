// The ceiling of any Node hop: a raw TCP pass-through (one upstream connection per client
// connection, bytes piped both ways, no HTTP parsing). Usage: node bench/gateway.raw.mjs PORT
// → prints the port it listens on. bench/gateway.sh runs it as the "raw" reference row.
import net from 'node:net';
const upstreamPort = Number(process.argv[2]);
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect(upstreamPort, '127.0.0.1');
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
