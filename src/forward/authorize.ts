// The checks every forward-proxy request passes before a destination is contacted, in order: client
// address (403), Proxy-Authorization (407), destination host and port (403), name resolution (502), and
// the address the name resolved to (403, SSRF). The answer is the destination to connect to, or the
// refusal to send.
import { hostnameOf, type RequestHead } from '../l7/index.ts';
import type { ForwardContext } from './context.ts';
import type { DenialReason } from './counters.ts';

export interface Destination {
  /** Lower-case host as the request named it (IPv6 literals in brackets): what policy and logs see. */
  host: string;
  port: number;
  /** The resolved address the proxy connects to (and checked). */
  address: string;
  user: string | undefined;
}

export interface Refusal {
  status: number;
  reason: string;
  /** Header lines (with CRLF) the answer carries: the 407 challenge. */
  extra: string;
  /** Counted as a denial (403/407) under this reason; undefined for 400 and 502. */
  denial: DenialReason | undefined;
}

function refuse(status: number, reason: string, denial?: DenialReason, extra = ''): Refusal {
  return { status, reason, extra, denial };
}

/** The port of an authority ("host:port", "[v6]:port"), `fallback` when it names none, -1 when invalid. */
export function portOf(authority: string, fallback: number): number {
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || colon < close) return fallback;
  const text = authority.slice(colon + 1);
  if (text.length === 0 || text.length > 5) return -1;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    port = port * 10 + digit;
  }
  return port >= 1 && port <= 65535 ? port : -1;
}

export async function authorize(context: ForwardContext, head: RequestHead, client: string, connect: boolean): Promise<Destination | Refusal> {
  const { policy } = context;
  if (!policy.client(client)) return refuse(403, 'client not allowed', 'client');
  let user: string | undefined;
  if (context.passwords !== undefined) {
    const credentials = head.header('proxy-authorization');
    if (credentials === undefined) return refuse(407, 'proxy authentication required', 'auth', context.challenge);
    user = await context.passwords.check(credentials);
    if (user === undefined) return refuse(407, 'proxy authentication failed', 'auth', context.challenge);
  }
  const host = hostnameOf(head.authority);
  const port = portOf(head.authority, 80);
  if (host === '' || host === '[]' || port < 0) return refuse(400, 'invalid destination authority');
  if (!policy.host(host)) return refuse(403, `destination host not allowed: ${host}`, 'host');
  if (!policy.port(port, connect)) return refuse(403, `destination port not allowed: ${port}`, 'port');
  const bare = host.charCodeAt(0) === 0x5b ? host.slice(1, -1) : host;
  let address: string;
  try {
    address = await context.resolver.lookup(bare);
  } catch (err) {
    return refuse(502, `cannot resolve ${bare}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!policy.destination(address)) return refuse(403, `destination address not allowed: ${address}`, 'destination');
  return { host, port, address, user };
}

export function isRefusal(verdict: Destination | Refusal): verdict is Refusal {
  return (verdict as Refusal).status !== undefined;
}
