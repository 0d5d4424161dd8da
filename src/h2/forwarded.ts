// Forwarded headers for streams proxied to h2/grpc pools, with the L7 core's rules (same config keys, same
// trusted-proxy walk): the client's own X-Forwarded-* survive only when its TCP peer is a trusted proxy.
import type { IncomingHttpHeaders } from 'node:http2';
import type { ListenerConfig } from '../config/index.ts';
import { TrustedProxies, clientFromChain } from '../l7/index.ts';

export class ForwardedHeaders {
  private readonly trusted: TrustedProxies;
  private readonly names: ReadonlySet<string>;
  private readonly requestId: string;

  constructor(listener: ListenerConfig) {
    this.trusted = new TrustedProxies(listener.forwarded.trusted_proxies);
    this.names = new Set(listener.forwarded.headers);
    this.requestId = listener.forwarded.request_id === false ? '' : listener.forwarded.request_id.toLowerCase();
  }

  /** The name of the request id header ('' when request ids are off). */
  get requestIdName(): string {
    return this.requestId;
  }

  /** The client's address: the TCP peer, or from X-Forwarded-For when the peer is a trusted proxy. */
  client(headers: IncomingHttpHeaders, peer: string): string {
    if (this.trusted.empty || !this.trusted.contains(peer)) return peer;
    const incoming = headers['x-forwarded-for'];
    return clientFromChain(Array.isArray(incoming) ? incoming.join(', ') : (incoming ?? ''), peer, this.trusted);
  }

  /** Header values to set on the upstream request (they replace the incoming ones of the same name). */
  /**
   * `nextRequestId` makes the id of a request whose client sent none (or one longer than 200 bytes): the L7
   * listener's, so ids look the same on every protocol pair.
   */
  compute(headers: IncomingHttpHeaders, peer: string, scheme: 'http' | 'https', localPort: number, nextRequestId: () => string): Record<string, string> {
    const out: Record<string, string> = {};
    const trusted = !this.trusted.empty && this.trusted.contains(peer);
    const incoming = trusted ? headers['x-forwarded-for'] : undefined;
    const chain = Array.isArray(incoming) ? incoming.join(', ') : (incoming ?? '');
    const client = trusted ? clientFromChain(chain, peer, this.trusted) : peer;
    const proto = (trusted && typeof headers['x-forwarded-proto'] === 'string' && headers['x-forwarded-proto']) || scheme;
    const authority = String(headers[':authority'] ?? headers.host ?? '');
    const names = this.names;
    if (names.has('x-forwarded-for')) out['x-forwarded-for'] = chain.length > 0 ? `${chain}, ${peer}` : peer;
    if (names.has('x-real-ip')) out['x-real-ip'] = client;
    if (names.has('x-forwarded-proto')) out['x-forwarded-proto'] = proto;
    if (names.has('x-forwarded-host') && authority.length > 0) out['x-forwarded-host'] = authority;
    if (names.has('x-forwarded-port')) out['x-forwarded-port'] = String(localPort);
    if (names.has('forwarded')) out.forwarded = `for=${client.includes(':') ? `"[${client}]"` : client};proto=${scheme}${authority ? `;host="${authority}"` : ''}`;
    if (this.requestId.length > 0) {
      const sent = headers[this.requestId];
      if (typeof sent !== 'string' || sent.length === 0 || sent.length > 200) out[this.requestId] = nextRequestId();
    }
    return out;
  }
}
