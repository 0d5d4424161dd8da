// CPU cost of the jwt and waf request filters in process (no sockets): µs of CPU per onRequest, jwt with
// its verification cache on and off (ES256, RS256, HS256), and waf on an ordinary request, on a probe, and
// with body inspection on ordinary JSON and form bodies.
// Run: node_modules/.bin/node bench/filters/auth-filters.ts   (single-threaded; pin it with taskset for
// steadier figures).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { middlewareSchemas } from '../../src/config/index.ts';
import { jwtFilter } from '../../src/l7/filters/jwt/index.ts';
import { wafFilter } from '../../src/l7/filters/waf/index.ts';
import type { HttpFilter } from '../../src/l7/filters/index.ts';
import { filterContext, filterEnv } from '../../test/support/filter-kit.ts';

const ITERATIONS = Number(process.env.ITERATIONS ?? 20_000);

async function measure(filter: HttpFilter, ctx: ReturnType<typeof filterContext>): Promise<number> {
  for (let i = 0; i < 500; i++) await filter.onRequest!(ctx);
  const start = process.cpuUsage();
  for (let i = 0; i < ITERATIONS; i++) {
    const verdict = filter.onRequest!(ctx);
    if (verdict instanceof Promise) await verdict;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / ITERATIONS;
}

const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-jwt-'));
const rows: [string, number][] = [];
try {
  const secret = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
  await writeFile(path.join(dir, 'secret'), secret);
  for (const alg of ['ES256', 'RS256', 'HS256'] as const) {
    let key: Parameters<SignJWT['sign']>[0];
    let settings: Record<string, unknown>;
    if (alg === 'HS256') {
      key = secret;
      settings = { secret_file: 'secret' };
    } else {
      const pair = await generateKeyPair(alg, { extractable: true });
      key = pair.privateKey;
      await writeFile(path.join(dir, `${alg}.json`), JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k', alg }] }));
      settings = { keys_file: `${alg}.json` };
    }
    const token = await new SignJWT({ sub: 'u-42', aud: 'api' }).setProtectedHeader({ alg, kid: 'k' }).setExpirationTime('1h').sign(key);
    const ctx = filterContext({ headers: { authorization: `Bearer ${token}` } });
    for (const cache of [0, 4096]) {
      const filter = jwtFilter.create(middlewareSchemas.jwt.parse({ ...settings, audience: 'api', cache_size: cache }), filterEnv(dir));
      rows.push([`jwt ${alg}, cache ${cache === 0 ? 'off' : 'on (repeated token)'}`, await measure(filter, ctx)]);
    }
  }
  const waf = wafFilter.create(middlewareSchemas.waf.parse({}), filterEnv(dir));
  rows.push(['waf, all built-in sets, ordinary request', await measure(waf, filterContext({ path: '/api/orders/42', query: 'fields=id,total&sort=-created', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0' } }))]);
  rows.push(['waf, all built-in sets, encoded query', await measure(waf, filterContext({ path: '/api/orders', query: 'filter=%7B%22status%22%3A%22open%22%7D&q=hello+world', headers: { 'user-agent': 'curl/8.5.0' } }))]);
  rows.push(['waf, all built-in sets, probe refused', await measure(waf, filterContext({ path: '/items', query: 'id=1%20UNION%20SELECT%20pw' }))]);
  // body inspection (8kb): a 2 KB JSON document and a 1 KB form, both ordinary, matched in full
  const wafBody = wafFilter.create(middlewareSchemas.waf.parse({ body: {} }), filterEnv(dir));
  const json = Buffer.from(JSON.stringify({ items: Array.from({ length: 30 }, (_, i) => ({ sku: `sku-${i}`, name: `item ${i}`, color: '#fff', qty: i })) }).slice(0, 2048));
  const form = Buffer.from(`user=alice&comment=${'a+perfectly+ordinary+comment+'.repeat(34)}`.slice(0, 1024));
  rows.push(['waf, body inspection, 2 KB JSON body', await measure(wafBody, filterContext({ method: 'POST', path: '/api/orders', headers: { 'content-type': 'application/json' }, body: json }))]);
  rows.push(['waf, body inspection, 1 KB form body', await measure(wafBody, filterContext({ method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form }))]);
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log('| filter | CPU µs per request |\n|---|---|');
for (const [what, us] of rows) console.log(`| ${what} | ${us.toFixed(2)} |`);
