// cors end to end on every protocol pair: preflights answered at the edge (204 / 403) without reaching the
// upstream, Access-Control-Allow-Origin on an allowed origin's response, the upstream's own CORS fields
// replaced or removed, Vary: Origin.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSwitchyard } from '../../support/run-switchyard.ts';
import { cleanupStack } from '../../support/cleanup.ts';
import { bothEngines, clients, curl, pools, recordingOrigins, twoPools } from './edge-pairs.ts';

const defer = cleanupStack();

describe('cors on every protocol pair', { timeout: 60_000 }, () => {
  it('answers preflights here and decorates responses for allowed origins only', async () => {
    // the upstream answers with its own (too broad) CORS field: the edge's policy must replace it
    const origins = await recordingOrigins(defer, { 'access-control-allow-origin': '*', vary: 'Accept-Encoding' });
    const cors = '{ cors: { origins: ["https://app.example.test", "https://*.example.test"], methods: [GET, PUT], headers: [content-type, x-token], expose_headers: [x-request-id], credentials: true, max_age: 120 } }';
    const running = await runSwitchyard(`${twoPools(origins)}${bothEngines(`      - { match: { path_prefix: /h1/ }, pool: h1, middleware: [ ${cors} ] }
      - { match: { path_prefix: /h2/ }, pool: h2, middleware: [ ${cors} ] }
`)}`);
    defer(() => running.stop());
    for (const { client, flags, listener } of clients) {
      for (const pool of pools) {
        const url = running.url(listener, `/${pool}/items`);
        const at = `${client} → ${pool}`;

        const preflight = await curl(flags, url, ['origin: https://a.b.example.test', 'access-control-request-method: PUT', 'access-control-request-headers: Content-Type, X-Token'], ['-X', 'OPTIONS']);
        assert.equal(preflight.status, 204, at);
        assert.equal(preflight.headers['access-control-allow-origin'], 'https://a.b.example.test', at);
        assert.equal(preflight.headers['access-control-allow-methods'], 'GET, PUT');
        assert.equal(preflight.headers['access-control-allow-headers'], 'content-type, x-token');
        assert.equal(preflight.headers['access-control-allow-credentials'], 'true');
        assert.equal(preflight.headers['access-control-max-age'], '120');
        assert.equal(preflight.headers.vary, 'Origin');

        for (const refused of [
          ['origin: https://evil.test', 'access-control-request-method: PUT'],
          ['origin: https://example.test', 'access-control-request-method: GET'],
          ['origin: https://app.example.test', 'access-control-request-method: DELETE'],
          ['origin: https://app.example.test', 'access-control-request-method: PUT', 'access-control-request-headers: x-other'],
        ]) {
          const answer = await curl(flags, url, refused, ['-X', 'OPTIONS']);
          assert.equal(answer.status, 403, `${at}: ${refused.join('; ')}`);
          assert.equal(answer.headers['access-control-allow-origin'], undefined);
        }
        assert.equal(origins.seen.filter((seen) => seen.method === 'OPTIONS').length, 0, `${at}: no preflight reached the upstream`);

        const allowed = await curl(flags, url, ['origin: https://app.example.test']);
        assert.equal(allowed.status, 200, at);
        assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.test', `${at}: the upstream's "*" replaced`);
        assert.equal(allowed.headers['access-control-allow-credentials'], 'true');
        assert.equal(allowed.headers['access-control-expose-headers'], 'x-request-id');
        assert.match(allowed.headers.vary, /Accept-Encoding.*Origin/);

        const other = await curl(flags, url, ['origin: https://evil.test']);
        assert.equal(other.status, 200, at);
        assert.equal(other.headers['access-control-allow-origin'], undefined, `${at}: the upstream's "*" removed for a disallowed origin`);
        assert.match(other.headers.vary, /Origin/);
      }
    }
    assert.equal(origins.seen.length, 12, 'only the 12 GETs reached the origins; every preflight was answered at the edge');
  });

  it('decorates a later filter\'s own answer too: a rate limit\'s 429 carries the CORS fields, so the page can read it', async () => {
    const origins = await recordingOrigins(defer);
    const middleware = '[ { cors: { origins: ["https://app.example.test"] } }, { headers: { response: { set: { x-edge: seen } } } }, { rate_limit: { key: "header:x-client", rate: 1/h, burst: 1 } } ]';
    const running = await runSwitchyard(`${twoPools(origins)}${bothEngines(`      - { match: { path_prefix: /h1/ }, pool: h1, middleware: ${middleware} }
      - { match: { path_prefix: /h2/ }, pool: h2, middleware: ${middleware} }
`)}`);
    defer(() => running.stop());
    for (const { client, flags, listener } of clients) {
      for (const pool of pools) {
        const at = `${client} → ${pool}`;
        const fields = ['origin: https://app.example.test', `x-client: ${client}-${pool}`];
        assert.equal((await curl(flags, running.url(listener, `/${pool}/a`), fields)).status, 200, at);
        const limited = await curl(flags, running.url(listener, `/${pool}/a`), fields);
        assert.equal(limited.status, 429, at);
        assert.equal(limited.headers['access-control-allow-origin'], 'https://app.example.test', at);
        assert.equal(limited.headers['x-edge'], 'seen', at);
        assert.match(limited.headers['retry-after'], /^\d+$/, at);
      }
    }
  });
});
