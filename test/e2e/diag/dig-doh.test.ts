// switchyard dig --https against a tiny DNS-over-HTTPS server (node:http2 + dns-packet, RFC 8484) with a
// certificate from a CA made by openssl: GET ?dns= and POST, ID 0, verification, and HTTP errors.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import { answerQuery } from '../../support/tiny-dns.ts';
import { switchyard } from './cli.ts';
import { makeTlsFixtures, type TlsFixtures } from './tls-fixtures.ts';

const zone = {
  zone: 'doh.test',
  records: [
    { type: 'SOA', name: 'doh.test', ttl: 60, data: { mname: 'ns.doh.test', rname: 'h.doh.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60 } },
    { type: 'A', name: 'www.doh.test', ttl: 120, data: '192.0.2.53' },
  ] as Answer[],
};

describe('switchyard dig --https', () => {
  let fixtures: TlsFixtures;
  let server: http2.Http2SecureServer;
  let base: string;
  const seen: { method: string; id: number }[] = [];
  before(async () => {
    fixtures = await makeTlsFixtures();
    server = http2.createSecureServer({ cert: fixtures.cert, key: fixtures.key });
    server.on('stream', (stream, headers) => {
      const url = new URL(String(headers[':path']), 'https://x');
      const reply = (query: Buffer): void => {
        const packet = dnsPacket.decode(query);
        seen.push({ method: String(headers[':method']), id: packet.id ?? -1 });
        const answer = dnsPacket.encode(answerQuery(zone, packet));
        stream.respond({ ':status': 200, 'content-type': 'application/dns-message', 'content-length': answer.length });
        stream.end(answer);
      };
      if (url.pathname !== '/dns-query') {
        stream.respond({ ':status': 404 });
        stream.end();
      } else if (headers[':method'] === 'GET') {
        reply(Buffer.from(url.searchParams.get('dns') ?? '', 'base64url'));
      } else {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => reply(Buffer.concat(chunks)));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    if (fixtures) await rm(fixtures.dir, { recursive: true, force: true });
  });

  for (const method of ['GET', 'POST'] as const) {
    it(`asks by ${method} with ID 0 and shows the answer`, async () => {
      const before = seen.length;
      const result = await switchyard(['dig', 'www.doh.test', '--https', `${base}/dns-query`, '--tls-ca', fixtures.caFile, ...(method === 'POST' ? ['--post'] : []), '--json']);
      assert.equal(result.code, 0, result.stderr);
      const output = JSON.parse(result.stdout);
      assert.equal(output.status, 'NOERROR');
      assert.equal(output.transport, 'HTTPS');
      assert.equal(output.answer[0].data, '192.0.2.53');
      assert.deepEqual(seen.slice(before), [{ method, id: 0 }]);
    });
  }

  it('prints like dig, and fails on an untrusted certificate or an HTTP error', async () => {
    const text = await switchyard(['dig', 'www.doh.test', '--https', `${base}/dns-query`, '--tls-ca', fixtures.caFile]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /www\.doh\.test\.\s+120\s+IN\s+A\s+192\.0\.2\.53/);
    assert.match(text.stdout, /\(HTTPS\)/);
    const untrusted = await switchyard(['dig', 'www.doh.test', '--https', `${base}/dns-query`]);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate/i);
    const missing = await switchyard(['dig', 'www.doh.test', '--https', `${base}/nope`, '--tls-ca', fixtures.caFile]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /HTTP 404/);
    const usage = await switchyard(['dig', 'www.doh.test', '--https', 'http://127.0.0.1/dns-query']);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /expected an https:\/\/ URL/);
  });
});
