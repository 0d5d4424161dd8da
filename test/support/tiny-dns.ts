// A tiny authoritative DNS server for tests (UDP and TCP on the same port), built on dns-packet so that the
// diagnostics are checked against something that is not Switchyard's own DNS server.
// One zone per server: exact-name answers, CNAME chains inside the zone, referrals (NS + glue) for
// delegated children, NODATA/NXDOMAIN with the SOA, and truncation (TC) for UDP answers over the limit.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, Packet, Question } from 'dns-packet';

export interface TinyDnsOptions {
  host?: string;
  port?: number;
  /** The zone's apex, e.g. "example.test" or "." for a root server. */
  zone: string;
  records: Answer[];
  /** Answers bigger than this over UDP (without EDNS: 512) are truncated. */
  udpLimit?: number;
}

export interface TinyDns {
  host: string;
  port: number;
  /** Queries received so far, with their transport. */
  queries: { name: string; type: string; transport: 'udp' | 'tcp' }[];
  close(): Promise<void>;
}

const norm = (name: string): string => (name === '.' || name === '' ? '' : name.replace(/\.$/, '').toLowerCase());
const under = (name: string, zone: string): boolean => zone === '' || name === zone || name.endsWith(`.${zone}`);

export function answerQuery(options: TinyDnsOptions, query: Packet): Packet {
  const question = query.questions?.[0] as Question;
  const zone = norm(options.zone);
  const response: Packet & Record<string, any> = {
    type: 'response',
    id: query.id,
    flags: ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED),
    questions: query.questions,
    answers: [],
    authorities: [],
    additionals: [],
  };
  const edns = (query.additionals ?? []).find((record) => record.type === 'OPT');
  if (edns) response.additionals!.push({ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] } as any);
  const name = norm(question?.name ?? '');
  const soa = options.records.filter((record) => record.type === 'SOA' && norm(record.name) === zone);
  if (!question || !under(name, zone)) {
    response.flags! |= 5; // REFUSED
    return response;
  }
  const records = options.records;
  // a delegation: NS records at a name between the zone apex and the query name
  const cut = records.find((record) => record.type === 'NS' && norm(record.name) !== zone && under(name, norm(record.name)));
  if (cut) {
    const child = norm(cut.name);
    const ns = records.filter((record) => record.type === 'NS' && norm(record.name) === child);
    response.authorities = ns;
    for (const record of ns) {
      const target = norm(String((record as any).data));
      response.additionals!.unshift(...records.filter((glue) => (glue.type === 'A' || glue.type === 'AAAA') && norm(glue.name) === target));
    }
    return response;
  }
  response.flags! |= dnsPacket.AUTHORITATIVE_ANSWER;
  let current = name;
  for (let hop = 0; hop < 8; hop++) {
    const here = records.filter((record) => norm(record.name) === current);
    const exact = here.filter((record) => record.type === question.type || (question.type as string) === 'ANY');
    if (exact.length > 0) {
      response.answers!.push(...exact);
      return response;
    }
    const cname = here.find((record) => record.type === 'CNAME');
    if (!cname) break;
    response.answers!.push(cname);
    current = norm(String((cname as any).data));
    if (!under(current, zone)) return response;
  }
  if (response.answers!.length > 0) return response;
  const exists = records.some((record) => under(norm(record.name), name));
  if (!exists) response.flags! |= 3; // NXDOMAIN
  response.authorities = soa;
  return response;
}

export async function startTinyDns(options: TinyDnsOptions): Promise<TinyDns> {
  const host = options.host ?? '127.0.0.1';
  const queries: TinyDns['queries'] = [];
  let udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const tcp = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + message.length);
        const query = dnsPacket.decode(message);
        queries.push({ name: query.questions?.[0]?.name ?? '', type: query.questions?.[0]?.type ?? '', transport: 'tcp' });
        const answer = dnsPacket.encode(answerQuery(options, query));
        const framed = Buffer.alloc(2);
        framed.writeUInt16BE(answer.length);
        socket.write(Buffer.concat([framed, answer]));
      }
    });
  });
  const onMessage = (message: Buffer, remote: dgram.RemoteInfo): void => {
    let query: Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    queries.push({ name: query.questions?.[0]?.name ?? '', type: query.questions?.[0]?.type ?? '', transport: 'udp' });
    const response = answerQuery(options, query);
    let wire = dnsPacket.encode(response);
    const hasEdns = (query.additionals ?? []).some((record) => record.type === 'OPT');
    const limit = Math.min(options.udpLimit ?? Infinity, hasEdns ? 1232 : 512);
    if (wire.length > limit) {
      wire = dnsPacket.encode({ ...response, flags: (response.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: response.additionals!.filter((r) => r.type === 'OPT') });
    }
    udp.send(wire, remote.port, remote.address);
  };
  udp.on('message', onMessage);
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(options.port ?? 0, host, () => resolve());
  });
  let port = udp.address().port;
  // The port the OS gave UDP may be taken for TCP (an outgoing connection's ephemeral port, often a
  // parallel test's): then try UDP's next free ports, a bounded number of times.
  for (let attempt = 0; ; attempt++) {
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      tcp.once('error', resolve);
      tcp.listen(port, host, () => {
        tcp.off('error', resolve);
        resolve(undefined);
      });
    });
    if (err === undefined) break;
    udp.close();
    if (err.code !== 'EADDRINUSE' || options.port !== undefined || attempt >= 20) throw err;
    udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    udp.on('message', onMessage);
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, host, () => resolve());
    });
    port = udp.address().port;
  }
  return {
    host,
    port,
    queries,
    close: async () => {
      udp.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
