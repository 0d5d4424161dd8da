// Forwarding: ask the configured upstream resolvers (with RD), in order, until one answers usefully.
import { LatencyHistogram, timed } from './latency.ts';
import { Rcode } from '../wire/constants.ts';
import type { HostPort } from '../../config/index.ts';
import type { Resolution, Resolver } from './index.ts';
import { queryUpstream, UpstreamError } from './upstream.ts';

export class Forwarder implements Resolver {
  private readonly servers: readonly HostPort[];
  private readonly timeout: number;
  upstreamQueries = 0;
  readonly upstreamLatency = new LatencyHistogram();

  constructor(servers: readonly HostPort[], timeout: number) {
    this.servers = servers;
    this.timeout = timeout;
  }

  async resolve(name: Buffer, qtype: number): Promise<Resolution> {
    let lastError: unknown;
    for (const server of this.servers) {
      this.upstreamQueries++;
      try {
        const response = await timed(this.upstreamLatency, queryUpstream(server, { name, type: qtype, recursionDesired: true, timeout: this.timeout }));
        if (response.rcode === Rcode.SERVFAIL || response.rcode === Rcode.REFUSED) {
          lastError = new UpstreamError(`resolver: ${server.host}:${server.port} answered rcode ${response.rcode}`);
          continue;
        }
        return { rcode: response.rcode, answer: response.answer, authority: response.authority };
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError ?? new UpstreamError('resolver: no forwarders');
  }

  close(): void {}
}
