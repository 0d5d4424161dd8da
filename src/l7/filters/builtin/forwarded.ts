// `forwarded`: the X-Forwarded-* / Forwarded fields of the request going upstream (forwarded.headers). The
// client's own copies are removed (declared in upstreamRemoves, so each path drops them while it copies
// the head) and the edge writes its own; a trusted proxy's X-Forwarded-For chain is extended, and its
// X-Forwarded-Proto / -Host are believed.
import type { ForwardedConfig } from '../../../config/index.ts';
import type { EdgeRequest, FilterContext, HeaderWriter, HttpFilter } from '../types.ts';

export interface ForwardedSettings {
  /** forwarded.headers, in the order the edge writes them. */
  headers: ForwardedConfig['headers'];
}

/** Builds the filter, or null when forwarded.headers is empty (then it costs nothing). */
export function createForwarded(settings: ForwardedSettings): HttpFilter | null {
  const names = new Set(settings.headers);
  if (names.size === 0) return null;
  const xff = names.has('x-forwarded-for');
  const realIp = names.has('x-real-ip');
  const proto = names.has('x-forwarded-proto');
  const host = names.has('x-forwarded-host');
  const port = names.has('x-forwarded-port');
  const forwarded = names.has('forwarded');
  return {
    name: 'forwarded',
    upstreamRemoves: [...names],
    onUpstreamRequest(ctx: FilterContext, head: HeaderWriter): void {
      const edge = ctx.edge as EdgeRequest;
      const trusted = edge.peerTrusted;
      if (xff) {
        const chain = trusted ? edge.joinedHeader('x-forwarded-for') : '';
        head.add('x-forwarded-for', chain.length === 0 ? edge.peerAddress : `${chain}, ${edge.peerAddress}`);
      }
      if (realIp) head.add('x-real-ip', ctx.clientAddress);
      if (proto) head.add('x-forwarded-proto', (trusted && ctx.header('x-forwarded-proto')) || ctx.scheme);
      if (host && ctx.host.length > 0) head.add('x-forwarded-host', (trusted && ctx.header('x-forwarded-host')) || ctx.host);
      if (port) head.add('x-forwarded-port', String(edge.localPort));
      if (forwarded) head.add('forwarded', forwardedValue(ctx.clientAddress, ctx.scheme, ctx.host));
    },
  };
}

/** RFC 7239: an IPv6 address is quoted and bracketed; the host is quoted (it may carry a port). */
export function forwardedValue(client: string, scheme: string, host: string): string {
  const forIp = client.includes(':') ? `"[${client}]"` : client;
  return `for=${forIp};proto=${scheme}${host.length > 0 ? `;host="${host}"` : ''}`;
}

