// DNS over HTTPS (RFC 8484) for `switchyard dig --https URL`: one query as application/dns-message over
// HTTP/2, by GET (`?dns=` base64url, the cache-friendly form) or POST (the message as the body). The
// certificate is verified against the system CAs plus any given CA.
import http2 from 'node:http2';
import tls from 'node:tls';
import { DiagError } from './errors.ts';

export interface DohOptions {
  /** The DoH endpoint, e.g. https://dns.example.test/dns-query. */
  url: URL;
  method: 'GET' | 'POST';
  /** Extra trusted CA certificates (PEM), besides the system's. */
  ca?: Buffer[];
}

const MEDIA_TYPE = 'application/dns-message';

/** Sends `wire` (its ID should be 0, RFC 8484 4.1) and resolves with the response message. */
export function httpsExchange(wire: Buffer, options: DohOptions, timeoutMs: number): Promise<Buffer> {
  const { url, method } = options;
  const where = url.href;
  return new Promise((resolve, reject) => {
    const session = http2.connect(url.origin, { ca: options.ca ? [...tls.rootCertificates, ...options.ca] : undefined, minVersion: 'TLSv1.2' });
    const finish = (error: Error | undefined, value?: Buffer): void => {
      clearTimeout(timer);
      session.destroy();
      if (error) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new DiagError('DNS', `no answer from ${where} within ${timeoutMs} ms`)), timeoutMs);
    session.on('error', (err: NodeJS.ErrnoException) => finish(new DiagError('DNS', `query to ${where} failed: ${err.code === 'ECONNREFUSED' ? 'connection refused' : err.message}`, err)));
    const path = method === 'GET' ? `${url.pathname}${url.search === '' ? '?' : `${url.search}&`}dns=${wire.toString('base64url')}` : `${url.pathname}${url.search}`;
    const headers: http2.OutgoingHttpHeaders = { ':method': method, ':path': path, accept: MEDIA_TYPE };
    if (method === 'POST') Object.assign(headers, { 'content-type': MEDIA_TYPE, 'content-length': wire.length });
    const request = session.request(headers);
    let status = 0;
    let type = '';
    const chunks: Buffer[] = [];
    request.on('response', (response) => {
      status = Number(response[':status']);
      type = String(response['content-type'] ?? '');
    });
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (status !== 200) finish(new DiagError('DNS', `${where} answered HTTP ${status}`));
      else if (!type.startsWith(MEDIA_TYPE)) finish(new DiagError('DNS', `${where} answered ${type || 'no content type'}, not ${MEDIA_TYPE}`));
      else finish(undefined, Buffer.concat(chunks));
    });
    request.on('error', (err) => finish(new DiagError('DNS', `query to ${where} failed: ${err.message}`, err)));
    request.end(method === 'POST' ? wire : undefined);
  });
}
