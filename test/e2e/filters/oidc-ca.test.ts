// `oidc` against a provider on https with a private CA: without `ca_file` discovery fails (the login is
// answered 503 and backs off), with it the filter discovers the provider over TLS and redirects to its
// authorization endpoint. The provider is a minimal discovery document served by node:https.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { makeTlsFixtures, type TlsFixtures } from '../diag/tls-fixtures.ts';
import { fakeContext, fakeEnv } from '../../support/filter-kit.ts';
import { middlewareSchema } from '../../../src/config/index.ts';
import { builtinFilters, type FilterFactory, type LocalResponse } from '../../../src/l7/index.ts';

describe('oidc with a private CA (ca_file)', { timeout: 60_000 }, () => {
  let tls: TlsFixtures;
  let server: https.Server;
  let issuer: string;
  let hits = 0;

  before(async () => {
    tls = await makeTlsFixtures();
    await writeFile(path.join(tls.dir, 'cookie.secret'), 'a-cookie-secret-of-more-than-thirty-two-bytes\n');
    server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      hits++;
      if (req.url !== '/.well-known/openid-configuration') return void res.writeHead(404).end();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `https://localhost:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(tls.dir, { recursive: true, force: true });
  });

  const build = (extra: Record<string, unknown>) => {
    const { env, host } = fakeEnv(tls.dir);
    const [entry] = middlewareSchema.parse([{ oidc: { issuer, client_id: 'edge', cookie_secret_file: 'cookie.secret', ...extra } }]);
    return { filter: (builtinFilters().get('oidc') as FilterFactory).create(entry.settings, env), host };
  };

  it('refuses an issuer its CAs do not trust, and trusts it with ca_file', async () => {
    const untrusted = build({});
    const refused = (await untrusted.filter.onRequest!(fakeContext({ path: '/page' }))) as LocalResponse;
    assert.equal(refused.status, 503);
    assert.equal(hits, 0, 'the TLS handshake failed: no request reached the provider');
    await untrusted.host.close();

    const trusted = build({ ca_file: tls.caFile });
    const login = (await trusted.filter.onRequest!(fakeContext({ path: '/page', query: 'a=1' }))) as LocalResponse;
    assert.equal(login.status, 302);
    const location = new URL(login.headers[login.headers.indexOf('location') + 1]);
    assert.equal(`${location.origin}${location.pathname}`, `${issuer}/auth`);
    assert.equal(location.searchParams.get('client_id'), 'edge');
    assert.equal(location.searchParams.get('redirect_uri'), 'http://edge.test/oauth2/callback');
    assert.equal(hits, 1);
    await trusted.host.close();
  });
});
