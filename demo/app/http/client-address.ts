// The client's real address: X-Forwarded-For is believed only as far as the hops that appended to it are
// trusted. Starting from the TCP peer, each trusted hop lets us step one entry left in the header; the
// first untrusted address is the client. A peer that is not a trusted edge gets its own address, whatever
// the header says, so nobody can claim another address by sending the header directly.
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Loopback: the edge runs on the same machine in the demo. */
export const defaultTrustedProxies = ['127.0.0.0/8', '::1/128'];

export class TrustedProxies {
  readonly #ranges: Range[];

  /** Throws on an invalid CIDR: call at start-up. */
  constructor(cidrs: readonly string[]) {
    this.#ranges = cidrs.map((text) => {
      if (text.includes('/')) return ipaddr.parseCIDR(text);
      const address = ipaddr.parse(text);
      return [address, address.kind() === 'ipv4' ? 32 : 128] as Range;
    });
  }

  trusts(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
    // match() needs both sides of one kind; the kind check makes the cast true.
    return this.#ranges.some((range) => address.kind() === range[0].kind() && (address as ipaddr.IPv4).match(range as [ipaddr.IPv4, number]));
  }

  /** peer: the socket's remoteAddress; forwardedFor: the X-Forwarded-For value (several headers joined). */
  clientAddress(peer: string | undefined, forwardedFor: string | undefined): string {
    const peerAddress = parse(peer);
    if (!peerAddress) return peer ?? 'unknown';
    let client = peerAddress;
    if (forwardedFor) {
      const hops = forwardedFor.split(',');
      for (let index = hops.length - 1; index >= 0 && this.trusts(client); index--) {
        const hop = parse(hops[index].trim());
        if (!hop) break; // a malformed entry: keep the last address we could vouch for
        client = hop;
      }
    }
    return client.toString();
  }
}

/** Parses and unmaps ::ffff:a.b.c.d (dual-stack sockets report IPv4 peers that way). */
function parse(text: string | undefined): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!text || !ipaddr.isValid(text)) return undefined;
  return ipaddr.process(text);
}
