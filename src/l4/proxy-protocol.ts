// PROXY protocol headers (HAProxy's spec, v1 text and v2 binary) that tell an upstream the real client
// address of an L4-proxied connection (or udp flow). Built once per connection, written before any client
// byte; a udp flow's is built once and prepended to each of its datagrams.
import net from 'node:net';

const v2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export interface ConnectionEnds {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

/** Strips the IPv4-mapped prefix Node reports on dual-stack sockets, so v4 clients get a v4 header. */
const plainAddress = (address: string): string => (address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address);

export function proxyHeaderV1(ends: ConnectionEnds): Buffer {
  const source = plainAddress(ends.sourceAddress);
  const destination = plainAddress(ends.destinationAddress);
  const family = net.isIPv4(source) && net.isIPv4(destination) ? 'TCP4' : net.isIPv6(source) && net.isIPv6(destination) ? 'TCP6' : undefined;
  if (!family) return Buffer.from('PROXY UNKNOWN\r\n');
  return Buffer.from(`PROXY ${family} ${source} ${destination} ${ends.sourcePort} ${ends.destinationPort}\r\n`);
}

function addressBytes(address: string): Buffer {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Expand "::" and write eight 16-bit groups.
  const [head, tail = ''] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  return bytes;
}

/** `dgram`: the header a udp listener prepends to each datagram of a flow (transport protocol DGRAM). */
export function proxyHeaderV2(ends: ConnectionEnds, transport: 'stream' | 'dgram' = 'stream'): Buffer {
  const source = plainAddress(ends.sourceAddress);
  const destination = plainAddress(ends.destinationAddress);
  const v4 = net.isIPv4(source) && net.isIPv4(destination);
  const v6 = net.isIPv6(source) && net.isIPv6(destination);
  if (!v4 && !v6) {
    // LOCAL command, no address: the upstream uses the connection's own addresses.
    return Buffer.concat([v2Signature, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  }
  const addressLength = v4 ? 12 : 36;
  const header = Buffer.alloc(16 + addressLength);
  v2Signature.copy(header, 0);
  header[12] = 0x21; // version 2, PROXY command
  // AF_INET (0x1_) or AF_INET6 (0x2_), STREAM (0x_1) or DGRAM (0x_2)
  header[13] = (v4 ? 0x10 : 0x20) | (transport === 'stream' ? 0x01 : 0x02);
  header.writeUInt16BE(addressLength, 14);
  const sourceBytes = addressBytes(source);
  const destinationBytes = addressBytes(destination);
  sourceBytes.copy(header, 16);
  destinationBytes.copy(header, 16 + sourceBytes.length);
  header.writeUInt16BE(ends.sourcePort, 16 + sourceBytes.length * 2);
  header.writeUInt16BE(ends.destinationPort, 18 + sourceBytes.length * 2);
  return header;
}
