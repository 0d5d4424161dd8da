// Before the clock starts, `switchyard trace` runs its own DNS, TCP and HTTP code once against throw-away
// servers on loopback in this process. Node compiles code paths lazily: without this, the first (and, in a
// CLI, only) request would charge several milliseconds of compilation to "dns lookup", "tcp connect" and
// "request sent". Best effort: any failure here is ignored, and it is bounded to 500 ms.
import dgram from 'node:dgram';
import type net from 'node:net';
import dnsPacket from 'dns-packet';
import { resolveViaServer } from './trace-resolve.ts';
import { connect, sendRequest } from './trace-http.ts';
import { nodeHttp } from '../core/index.ts';

const WARM_UP_LIMIT_MS = 500;

export async function warmUp(): Promise<void> {
  const udp = dgram.createSocket('udp4');
  const server = nodeHttp.createServer((_req, res) => res.end('ok'));
  const sockets: net.Socket[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    udp.on('message', (message, remote) => {
      const query = dnsPacket.decode(message);
      const name = query.questions?.[0]?.name ?? 'warm.up';
      udp.send(dnsPacket.encode({ type: 'response', id: query.id, questions: query.questions, answers: [{ type: 'A', name, ttl: 0, data: '127.0.0.1' }] }), remote.port, remote.address);
    });
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const work = (async () => {
      await resolveViaServer('warm.up', '127.0.0.1', udp.address().port, WARM_UP_LIMIT_MS);
      const socket = await connect('127.0.0.1', port, sockets);
      await sendRequest(socket, 'GET', '/', [['host', 'warm.up'], ['traceparent', '00-00000000000000000000000000000001-0000000000000001-00']]);
    })();
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, WARM_UP_LIMIT_MS)));
    await Promise.race([work.catch(() => undefined), limit]);
  } catch {
    // warming up is an optimisation only
  } finally {
    clearTimeout(timer);
    for (const socket of sockets) socket.destroy();
    udp.close();
    server.close();
    server.closeAllConnections();
  }
}
