// The CLI's side of the admin API (`switchyard reload`, `switchyard explain`): one request to the running edge. Over HTTPS the
// server must present the very certificate admin.tls names (pinned by its SHA-256 fingerprint, checked
// before the token is written), so it works for any host the edge listens on (0.0.0.0, a LAN address)
// and whether the certificate is self-signed or issued by a CA this machine does not know.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';

export interface AdminAddress {
  host: string;
  port: number;
  scheme?: 'http' | 'https';
}

export interface AdminAnswer {
  status: number;
  body: string;
}

const hostText = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * POST `pathname` with the bearer token and, when given, `json` as the body; `certFile` is admin.tls.cert,
 * required when the scheme is https.
 */
export function postAdmin(address: AdminAddress, pathname: string, token: string, certFile: string | undefined, timeoutMs: number, json?: unknown): Promise<AdminAnswer> {
  return requestAdmin('POST', address, pathname, token, certFile, timeoutMs, json);
}

/** GET `pathname` (with its query) with the bearer token: `switchyard explain`. */
export function getAdmin(address: AdminAddress, pathname: string, token: string, certFile: string | undefined, timeoutMs: number): Promise<AdminAnswer> {
  return requestAdmin('GET', address, pathname, token, certFile, timeoutMs);
}

async function requestAdmin(method: 'GET' | 'POST', address: AdminAddress, pathname: string, token: string, certFile: string | undefined, timeoutMs: number, json?: unknown): Promise<AdminAnswer> {
  const body = json === undefined ? '' : JSON.stringify(json);
  const type = json === undefined ? '' : 'application/json';
  if (address.scheme !== 'https') {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (type) headers['content-type'] = type;
    const response = await fetch(`http://${hostText(address.host)}:${address.port}${pathname}`, { method, headers, body: body || undefined, signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, body: await response.text() };
  }
  if (!certFile) throw new Error('the admin API speaks https but the config has no admin.tls.cert to verify it');
  const pinned = new X509Certificate(await readFile(certFile)).fingerprint256;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: address.host, port: address.port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
    const chunks: Buffer[] = [];
    socket.once('secureConnect', () => {
      const presented = socket.getPeerX509Certificate()?.fingerprint256;
      if (presented !== pinned) {
        socket.destroy(new Error(`the admin API at ${address.host}:${address.port} presented another certificate than ${certFile}`));
        return;
      }
      // write, not end: the server closes after its answer (connection: close); a client FIN first may cut it
      const typeLine = type ? `content-type: ${type}\r\n` : '';
      socket.write(`${method} ${pathname} HTTP/1.1\r\nhost: ${hostText(address.host)}:${address.port}\r\nauthorization: Bearer ${token}\r\n${typeLine}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!status) return reject(new Error('no HTTP answer from the admin API'));
      // The admin server answers JSON with content-length (never chunked): the body is what follows the head.
      resolve({ status: Number(status[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}
