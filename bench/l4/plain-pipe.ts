// The plainest Node TCP proxy: accept, connect, pipe() both ways. The floor for what any Node L4 proxy can
// do on this machine with the same runtime; started by bench/l4/run.ts with and without jemalloc preloaded.
//
//   node bench/l4/plain-pipe.ts <upstream port>   (prints "listening <port>")
import net from 'node:net';

const upstreamPort = Number(process.argv[2]);
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`);
});
