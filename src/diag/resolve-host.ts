// Host name → address with the system resolver (getaddrinfo: /etc/hosts, then DNS), for the commands that
// take a host. Failure is the DNS layer's, said in one line.
import dns from 'node:dns/promises';
import net from 'node:net';
import { DiagError } from './errors.ts';

export interface ResolvedHost {
  address: string;
  family: 4 | 6;
}

export async function resolveHost(host: string, family?: 4 | 6): Promise<ResolvedHost> {
  const kind = net.isIP(host);
  if (kind) return { address: host, family: kind as 4 | 6 };
  try {
    const found = await dns.lookup(host, family ? { family } : {});
    return { address: found.address, family: found.family as 4 | 6 };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOTFOUND' ? 'no such host' : code === 'EAI_AGAIN' ? 'temporary failure (no DNS server answered)' : String(code ?? err);
    throw new DiagError('DNS', `cannot resolve ${host}: ${why}`, err);
  }
}
