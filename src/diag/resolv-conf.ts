// The system's DNS server, as dig picks it: the first `nameserver` line of /etc/resolv.conf.
import { readFile } from 'node:fs/promises';
import { DiagError } from './errors.ts';

export async function systemNameserver(file = '/etc/resolv.conf'): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DiagError('DNS', `cannot read ${file} to find a nameserver (${(err as NodeJS.ErrnoException).code ?? err}); name one with @server`);
  }
  for (const line of text.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    // a scoped IPv6 address (fe80::1%eth0) is kept whole: Node's sockets accept the zone
    if (match) return match[1];
  }
  return '127.0.0.1';
}
