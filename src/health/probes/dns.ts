// dns: the backend answers a DNS query over UDP with NOERROR (the L4 check of a udp pool of name servers).
// One query per check, from a fresh socket connected to the backend, so only that backend's reply counts.
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import net from 'node:net';
import type * as DnsPacket from 'dns-packet';
import type { HealthConfig } from '../../config/index.ts';
import type { HealthProbe, ProbeFactory, ProbeResult, ProbeTarget } from '../types.ts';
import { reasonOf } from './reason.ts';

const RCODE_MASK = 0x000f;
const QR = 0x8000;

class DnsProbe implements HealthProbe {
  private readonly query: Buffer;

  constructor(config: HealthConfig) {
    // Built once: every check sends the same bytes (the id only has to match the reply's). dns-packet is
    // required here, so a primary without DNS checks does not load it (docs/operations.md, "Memory").
    const dnsPacket = createRequire(import.meta.url)('dns-packet') as typeof DnsPacket;
    this.query = dnsPacket.encode({ type: 'query', id: 0x5359, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: config.qtype, class: 'IN', name: config.query!.replace(/\.$/, '') }] });
  }

  check(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, reason: 'aborted' });
      const socket = dgram.createSocket(net.isIPv6(target.host) ? 'udp6' : 'udp4');
      const done = (result: ProbeResult) => {
        signal.removeEventListener('abort', onAbort);
        socket.close();
        resolve(result);
      };
      const onAbort = () => done({ ok: false, reason: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (err) => done({ ok: false, reason: reasonOf(err) }));
      socket.on('message', (reply) => {
        // a connected socket gets only the backend's datagrams; anything but a reply to our id is ignored
        if (reply.length < 12 || reply.readUInt16BE(0) !== 0x5359 || (reply.readUInt16BE(2) & QR) === 0) return;
        const rcode = reply.readUInt16BE(2) & RCODE_MASK;
        done(rcode === 0 ? { ok: true, reason: 'noerror' } : { ok: false, reason: `rcode ${rcodeName(rcode)}` });
      });
      socket.connect(target.port, target.host, () => socket.send(this.query));
    });
  }
}

function rcodeName(rcode: number): string {
  return ['noerror', 'formerr', 'servfail', 'nxdomain', 'notimp', 'refused'][rcode] ?? String(rcode);
}

export const dnsProbe = {
  type: 'dns',
  create: (config: HealthConfig): HealthProbe => new DnsProbe(config),
} satisfies ProbeFactory;
