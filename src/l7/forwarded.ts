// Who the client really is. X-Forwarded-For is believed only when the TCP peer is a trusted proxy; then
// the real client is the right-most address of the chain that is not itself trusted. An untrusted peer's
// X-Forwarded-For is dropped, so a client cannot make the origin see a forged address.
import ipaddr from 'ipaddr.js';
import type { Cidr } from '../config/index.ts';

/** Addresses remembered by TrustedProxies.contains before the memo starts over. */
const MEMO_LIMIT = 1024;

export class TrustedProxies {
  private readonly v4: [ipaddr.IPv4, number][] = [];
  private readonly v6: [ipaddr.IPv6, number][] = [];
  /**
   * contains() answers by address text: parsing one with ipaddr.js costs ~3.5 µs, and the same few peers
   * (the load balancers in front) ask on every request. Bounded, because X-Forwarded-For entries are the
   * client's to choose; built per listener runtime, so a reload starts it afresh.
   */
  private readonly memo = new Map<string, boolean>();

  constructor(cidrs: readonly Cidr[]) {
    for (const [address, bits] of cidrs) {
      if (address.kind() === 'ipv4') this.v4.push([address as ipaddr.IPv4, bits]);
      else this.v6.push([address as ipaddr.IPv6, bits]);
    }
  }

  get empty(): boolean {
    return this.v4.length === 0 && this.v6.length === 0;
  }

  /** Whether the address (text, v4, v6 or v4-mapped v6) is inside a trusted range; false for what is no address. */
  contains(text: string): boolean {
    if (this.empty) return false;
    const known = this.memo.get(text);
    if (known !== undefined) return known;
    const inside = this.match(text);
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(text, inside);
    return inside;
  }

  private match(text: string): boolean {
    let address: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      address = ipaddr.process(text.trim());
    } catch {
      return false;
    }
    if (address.kind() === 'ipv4') {
      for (const range of this.v4) if ((address as ipaddr.IPv4).match(range)) return true;
    } else {
      for (const range of this.v6) if ((address as ipaddr.IPv6).match(range)) return true;
    }
    return false;
  }
}

/** "::ffff:127.0.0.1" → "127.0.0.1": the form logs and headers use. */
export function normalizePeer(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The real client given the incoming X-Forwarded-For chain (already joined, may be '') of a trusted peer:
 * walk from the right, skipping trusted hops; the first untrusted entry is the client; when every entry
 * is trusted the left-most one is. Entries that are not addresses end the walk (they are the client's claim).
 */
export function clientFromChain(chain: string, peer: string, trusted: TrustedProxies): string {
  if (chain.length === 0) return peer;
  const entries = chain.split(',');
  let client = peer;
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i].trim();
    if (entry.length === 0) continue;
    client = entry;
    // an entry that is no address is the client's claim, and ends the walk like an untrusted one
    if (!trusted.contains(entry)) break;
  }
  return client;
}
