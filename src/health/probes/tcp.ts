// tcp: the backend accepts a TCP connection (the L4 check). The connection is closed as soon as it is up.
import net from 'node:net';
import type { HealthProbe, ProbeFactory, ProbeResult, ProbeTarget } from '../types.ts';
import { reasonOf } from './reason.ts';

class TcpProbe implements HealthProbe {
  check(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, reason: 'aborted' });
      const socket = net.connect({ host: target.host, port: target.port });
      const done = (result: ProbeResult) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(result);
      };
      const onAbort = () => done({ ok: false, reason: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => done({ ok: true, reason: 'connected' }));
      socket.on('error', (err) => done({ ok: false, reason: reasonOf(err) }));
    });
  }
}

export const tcpProbe = {
  type: 'tcp',
  create: (): HealthProbe => new TcpProbe(),
} satisfies ProbeFactory;
