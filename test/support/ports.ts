// Ports a test needs to know before something listens on them, without the race of "bind port 0, close
// it, use the number": between the close and the use, any process on the machine (a parallel test, an
// outgoing connection's ephemeral port) may take it. Two ways out:
//
// - anchorPort(): a helper process keeps the port BOUND but not listening, with SO_REUSEPORT. Connects to
//   it are refused (what a "closed port" test wants), nothing without SO_REUSEPORT can bind it, and a test
//   server that listens with `reusePort: true` joins it, serves, closes, and can listen again later —
//   the port never goes back to the pool while the anchor lives. (Node has no bind-without-listen for
//   TCP, hence the python3 one-liner.)
// - retryOnAddressInUse(): for a port that a process under test must bind itself (without SO_REUSEPORT,
//   or after an exclusive probe): pick, try, and on EADDRINUSE pick again, a bounded number of times.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';

export interface PortAnchor {
  readonly host: string;
  readonly port: number;
  /** Unbinds the port (ends the helper); safe to call twice. */
  release(): Promise<void>;
}

// With "udp", the same port number is also held for UDP by a socket connected to the discard port: the
// kernel delivers it nothing from anyone else and answers other senders "port unreachable", as for a port
// nobody binds.
const ANCHOR = [
  'import socket, sys',
  'host, port, udp = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "udp"',
  'family = socket.AF_INET6 if ":" in host else socket.AF_INET',
  'for attempt in range(20):',
  '    s = socket.socket(family)',
  '    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)',
  '    s.bind((host, port))',
  '    if not udp: break',
  '    u = socket.socket(family, socket.SOCK_DGRAM)',
  '    try:',
  '        u.bind((host, s.getsockname()[1]))',
  '        u.connect((host, 9))',
  '        break',
  '    except OSError:',
  '        s.close(); u.close()',
  '        if port != 0 or attempt == 19: raise',
  'print(s.getsockname()[1], flush=True)',
  'sys.stdin.read()',
].join('\n');

/**
 * Binds host:port (0 = any free port) and keeps it bound, not listening, until release(); with `udp`, the
 * same port for UDP too, answering "port unreachable". Needs python3.
 */
export async function anchorPort(host = '127.0.0.1', port = 0, options: { udp?: boolean; untilExit?: boolean } = {}): Promise<PortAnchor> {
  const child = spawn('python3', ['-c', ANCHOR, host, String(port), options.udp ? 'udp' : 'tcp'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const bound = await new Promise<number>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`port anchor: python3 is needed to hold a bound port: ${err.message}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(Number(line)));
    exited.then(() => reject(new Error(`port anchor: could not bind ${host}:${port}: ${stderr.trim()}`)));
  });
  if (options.untilExit) {
    // held for the rest of this process: nothing here keeps it alive, and the helper ends when its stdin
    // closes with this process
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
  return {
    host,
    port: bound,
    release: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}

/** Listens `server` on host:port with SO_REUSEPORT, so it can share an anchored port. */
export function listenReusingPort(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, reusePort: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A port that was free a moment ago: only for retryOnAddressInUse, which copes with losing it. */
export async function lastFreePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs attempt() until it does not fail with "address in use" (EADDRINUSE, or a message saying the port is
 * already in use), at most `attempts` times; attempt() picks fresh ports each time. Other errors propagate.
 */
export async function retryOnAddressInUse<T>(attempt: () => Promise<T>, attempts = 5): Promise<T> {
  for (let tried = 1; ; tried++) {
    try {
      return await attempt();
    } catch (err) {
      const text = `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message ?? ''}`;
      if (tried >= attempts || !/EADDRINUSE|already in use|address in use/i.test(text)) throw err;
    }
  }
}
