// A set of address ranges (CIDRs from the config) answering "is this address inside?". Used for the
// listener's access lists and accept_proxy_protocol sources, and by src/l7 for forwarded.trusted_proxies.
import ipaddr from 'ipaddr.js';
import type { Cidr } from '../config/index.ts';

/** Addresses remembered by CidrSet.contains before the memo starts over. */
const MEMO_LIMIT = 1024;

export class CidrSet {
  private readonly v4: [ipaddr.IPv4, number][] = [];
  private readonly v6: [ipaddr.IPv6, number][] = [];
  /**
   * contains() answers by address text: parsing one with ipaddr.js costs ~3.5 µs, and the same few peers
   * (the load balancers in front) ask on every request. Bounded, because some of the addresses asked
   * about (X-Forwarded-For entries) are the client's to choose; built per config, so a reload starts it afresh.
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

  /** Whether the address (text, v4, v6 or v4-mapped v6) is inside a range; false for what is no address. */
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
