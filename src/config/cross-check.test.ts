// Keys that would validate and do nothing are refused at load with file:line and the reason; configs that
// use every key where it acts still load (no false alarms, notably in route shadowing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from './index.ts';

const pools = `pools:
  app: { backends: [ { address: 127.0.0.1:9 } ] }
`;

function refusal(yaml: string): string {
  try {
    parseConfigText(yaml, 'edge.yaml', '/tmp');
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail(`accepted:\n${yaml}`);
}

const tcp = (extra: string): string => `${pools}listeners:\n  - { name: raw, listen: 127.0.0.1:0, protocol: tcp, pool: app, ${extra} }\n`;
const web = (routes: string, extra = ''): string => `${pools}listeners:\n  - name: web\n    listen: 127.0.0.1:0\n${extra}    routes:\n${routes}`;

test('listener keys of another kind are refused', () => {
  assert.match(refusal(web('      - pool: app\n', '    http2: { max_concurrent_streams: 10 }\n')), /^edge\.yaml:6:\d+: listeners\[0\]\.http2: expected no http2 settings on an http listener/);
  assert.match(refusal(web('      - pool: app\n', '    protocol: https\n    tls: { self_signed: true, alpn: [http/1.1] }\n    http2: { engine: node }\n')), /listeners\[0\]\.http2: expected no http2 settings on a listener whose tls\.alpn leaves out h2/);
  assert.match(refusal(web('      - pool: app\n', '    pool: app\n')), /listeners\[0\]\.pool: expected no pool on a listener with protocol: http/);
  assert.match(refusal(tcp('timeouts: { header: 5s }')), /listeners\[0\]\.timeouts\.header: expected only upstream_connect, tunnel_idle, proxy_protocol in timeouts of a tcp listener, got header/);
  assert.match(refusal(tcp('limits: { max_body_size: 1mb }')), /listeners\[0\]\.limits\.max_body_size: expected only max_connections/);
  assert.match(refusal(tcp('forwarded: { request_id: false }')), /listeners\[0\]\.forwarded: expected no forwarded settings on a tcp listener/);
  parseConfigText(tcp('timeouts: { tunnel_idle: 5m, upstream_connect: 1s }, limits: { max_connections: 10 }, proxy_protocol: v1'), 'edge.yaml', '/tmp');
});

test('the connection filters: proxy_protocol timeout only with accept_proxy_protocol, access with a list, CIDRs checked', () => {
  assert.match(refusal(tcp('timeouts: { proxy_protocol: 2s }')), /listeners\[0\]\.timeouts\.proxy_protocol: expected timeouts\.proxy_protocol only with accept_proxy_protocol/);
  assert.match(refusal(web('      - pool: app\n', '    timeouts: { proxy_protocol: 2s }\n')), /timeouts\.proxy_protocol: expected timeouts\.proxy_protocol only with accept_proxy_protocol/);
  assert.match(refusal(tcp('access: {}')), /listeners\[0\]\.access: expected allow or deny \(or both\), got neither/);
  assert.match(refusal(tcp('access: { allow: [] }')), /listeners\[0\]\.access\.allow/);
  assert.match(refusal(tcp('access: { deny: [10.0.0.0/33] }')), /access\.deny\[0\]: expected an address or CIDR/);
  assert.match(refusal(tcp('accept_proxy_protocol: [lb.example.test]')), /accept_proxy_protocol\[0\]: expected an address or CIDR/);
  assert.match(refusal(tcp('access: { allow: [10.0.0.0/8], clients: [10.0.0.1] }')), /access/);
  parseConfigText(tcp('accept_proxy_protocol: [10.0.0.0/8, "::1"], timeouts: { proxy_protocol: 2s }, access: { allow: [10.0.0.0/8], deny: [10.9.0.0/16] }'), 'edge.yaml', '/tmp');
  parseConfigText(web('      - pool: app\n', '    accept_proxy_protocol: [127.0.0.1]\n    access: { deny: [192.0.2.0/24] }\n'), 'edge.yaml', '/tmp');
});

test('route fields the action never reads are refused', () => {
  assert.match(refusal(web('      - { match: { path_prefix: /a }, redirect: { host: b.test }, strip_prefix: true }\n')), /routes\[0\]\.strip_prefix: expected strip_prefix only on pool and static routes, got a redirect route/);
  assert.match(refusal(web('      - { respond: { status: 204 }, upstream_host: backend }\n')), /routes\[0\]\.upstream_host: expected upstream_host only on a pool route, got a respond route/);
  assert.match(refusal(web('      - { respond: { status: 204 }, timeouts: { upstream_response: 1s } }\n')), /routes\[0\]\.timeouts: expected timeouts only on a pool route/);
  assert.match(refusal(web('      - { pool: app, strip_prefix: true }\n')), /routes\[0\]\.strip_prefix: expected a match\.path_prefix to strip/);
  assert.match(refusal(web('      - { match: { path: /a, path_prefix: /b }, pool: app }\n')), /routes\[0\]\.match: expected at most one of path, path_prefix and path_regex, got path and path_prefix/);
  assert.match(refusal(web('      - { redirect: { to: "https://x.test", port: 8443 } }\n')), /routes\[0\]\.redirect\.port: expected either to or scheme\/host\/port, got to and port/);
  assert.match(refusal(web('      - { redirect: { status: 301 } }\n')), /routes\[0\]\.redirect: expected to, scheme, host or port, got none \(every request would be redirected to itself\)/);
});

test('routes an earlier route always takes are refused; routes that can still match are not', () => {
  assert.match(refusal(web('      - { match: { path_prefix: /api }, pool: app }\n      - { match: { path_prefix: /api/v2, methods: [GET] }, pool: app }\n')), /routes\[1\]\.match: expected a route that can match, got one shadowed by routes\[0\], which matches path_prefix: "\/api" first/);
  assert.match(refusal(web('      - { match: { host: "*.example.test" }, pool: app }\n      - { match: { host: api.example.test, path: /x }, pool: app }\n')), /routes\[1\]\.match: expected a route that can match/);
  assert.match(refusal(web('      - { match: { headers: { x-a: "1" } }, pool: app }\n      - { match: { headers: { x-a: "1", x-b: "2" } }, pool: app }\n')), /routes\[1\]\.match: expected a route that can match/);
  // each of these later routes matches something the earlier one does not
  parseConfigText(
    web(`      - { match: { host: api.example.test }, pool: app }
      - { match: { path_prefix: /api, methods: [GET] }, pool: app }
      - { match: { path_prefix: /api }, pool: app }
      - { match: { path_regex: "^/x" }, pool: app }
      - { match: { path: /x/y }, pool: app }
      - { match: { host: "*.example.test", headers: { x-a: "1" } }, pool: app }
      - { match: { host: a.b.example.test }, pool: app }
      - { match: { path_prefix: / }, pool: app }
`),
    'edge.yaml',
    '/tmp',
  );
});

test('pool and health keys that would do nothing are refused', () => {
  const pool = (body: string): string => `pools:\n  app:\n    backends: [ { address: 127.0.0.1:9 } ]\n${body}`;
  assert.match(refusal(pool('    protocol: h2c\n    tls: { servername: a.test }\n')), /^edge\.yaml:5:10: pools\.app\.tls: expected no tls on an h2c pool/);
  assert.match(refusal(pool('    hash_key: path\n')), /pools\.app\.hash_key: expected hash_key only with balance: consistent_hash, got balance: round_robin/);
  assert.match(refusal(pool('    health: { type: tcp, path: /ready }\n')), /pools\.app\.health\.path: expected no path in a health check of type: tcp \(it is used by http checks\)/);
  assert.match(refusal(pool('    health: { type: http, service: users }\n')), /pools\.app\.health\.service: expected no service in a health check of type: http \(it is used by grpc checks\)/);
  assert.match(refusal(pool('    protocol: h2c\n    max_connections: 10\n')), /pools\.app\.max_connections: expected no max_connections on a pool with protocol: h2c/);
  assert.match(refusal(pool('    protocol: grpc\n    keepalive: { max_idle: 4 }\n')), /pools\.app\.keepalive\.max_idle: expected only idle_timeout in keepalive of a pool with protocol: grpc/);
  assert.match(refusal(pool('    protocol: h2c\n    connection_queue: { size: 10 }\n')), /pools\.app\.connection_queue: expected no connection_queue on a pool with protocol: h2c/);
  parseConfigText(pool('    protocol: grpc\n    tls: { servername: a.test }\n    health: { type: grpc, service: users, host: a.test }\n'), 'edge.yaml', '/tmp');
  parseConfigText(pool('    protocol: h2c\n'), 'edge.yaml', '/tmp');
  // HTTP/2 pools honour every retries key, as HTTP/1.1 pools do
  parseConfigText(pool('    protocol: h2\n    retries: { attempts: 1, on: [timeout, 503], methods: [GET, POST], budget_percent: 10, per_try_timeout: 2s }\n'), 'edge.yaml', '/tmp');
});

test('request_buffering is refused where requests are always streamed', () => {
  const config = (pool: string, extra: string): string =>
    `pools:\n  app:\n    backends: [ { address: 127.0.0.1:9 } ]\n${pool}listeners:\n  - name: web\n    listen: 127.0.0.1:0\n${extra}`;
  const route = '    protocol: http\n    routes: [ { match: { path_prefix: / }, pool: app, request_buffering: { enabled: false } } ]\n';
  assert.match(refusal(config('    protocol: grpc\n', route)), /listeners\[0\]\.routes\[0\]\.request_buffering: expected request_buffering only on a route to an http1 pool, got pool app with protocol: grpc/);
  parseConfigText(config('', route), 'edge.yaml', '/tmp');
  assert.match(refusal(config('', '    protocol: tcp\n    pool: app\n    request_buffering: { enabled: false }\n')), /listeners\[0\]\.request_buffering: expected no request_buffering settings on a tcp listener/);
});

test('the admin API stays on loopback unless allow_remote, and then needs tls', () => {
  assert.match(refusal('admin: { listen: "[::]:9090" }\n'), /admin\.listen: expected a loopback address \(127\.0\.0\.1, ::1\) unless allow_remote: true, got :::9090/);
  assert.match(refusal('admin: { listen: 127.0.0.1:9090, allow_remote: true }\n'), /admin\.allow_remote: expected allow_remote only with a non-loopback listen address/);
  assert.match(refusal('admin: { listen: 10.1.2.3:9090, allow_remote: true }\n'), /admin\.tls: expected tls \(cert and key\)/);
  parseConfigText('admin: { listen: 10.1.2.3:9090, allow_remote: true, tls: { cert: a.pem, key: a.key } }\n', 'edge.yaml', '/tmp');
  parseConfigText('admin: { listen: "[::1]:9090" }\n', 'edge.yaml', '/tmp');
  parseConfigText('admin: { listen: localhost:9090 }\n', 'edge.yaml', '/tmp');
});

test('https without a certificate, and DNS record fields of another type, are refused', () => {
  assert.match(refusal(`${pools}listeners:\n  - { name: web, listen: 127.0.0.1:0, protocol: https, tls: { hsts: true }, routes: [ { pool: app } ] }\n`), /listeners\[0\]\.tls: expected certificates or self_signed: true, got neither/);
  const zone = (record: string): string => `dns:\n  zones:\n    - origin: example.test.\n      soa: { mname: ns1.example.test., rname: h.example.test. }\n      records: [ ${record} ]\n`;
  assert.match(refusal(zone('{ name: www, type: A, value: 192.0.2.1, priority: 10 }')), /dns\.zones\[0\]\.records\[0\]\.priority: expected priority only on MX and SRV records, got type: A/);
  assert.match(refusal(zone('{ name: "@", type: MX, value: mx.example.test., priority: 10, port: 25 }')), /records\[0\]\.port: expected port only on SRV records, got type: MX/);
  parseConfigText(zone('{ name: _sip._tcp, type: SRV, value: sip.example.test., priority: 10, weight: 5, port: 5060 }'), 'edge.yaml', '/tmp');
});

test('a dns route (DNS over HTTPS) needs the dns section, and takes none of the proxy route keys', () => {
  const listener = (route: string): string => `listeners:\n  - { name: web, listen: 127.0.0.1:0, routes: [ { match: { path: /dns-query }, ${route} } ] }\n`;
  const dns = 'dns:\n  listen: [udp://127.0.0.1:0]\n';
  assert.match(refusal(listener('dns: {}')), /listeners\[0\]\.routes\[0\]\.dns: expected a dns: section for a DNS-over-HTTPS route/);
  assert.match(refusal(`${dns}${listener('dns: {}, strip_prefix: /dns')}`), /routes\[0\]\.strip_prefix: expected strip_prefix only on pool and static routes, got a dns route/);
  assert.match(refusal(`${dns}${listener('dns: {}, timeouts: { upstream_response: 1s }')}`), /routes\[0\]\.timeouts: expected timeouts only on a pool route, got a dns route/);
  assert.match(refusal(`${dns}${listener('dns: { cache: true }')}`), /routes\[0\]\.dns\.cache: unknown key/);
  assert.match(refusal(`${dns}${pools}${listener('dns: {}, pool: app')}`), /expected exactly one action of pool, redirect, respond, static or dns, got pool and dns/);
  parseConfigText(`${dns}${listener('dns: {}')}`, 'edge.yaml', '/tmp');
});

test('http3: only on https, its settings only when enabled; the forms parse to one shape', () => {
  const https = (http3: string): string => web('      - pool: app\n', `    protocol: https\n    tls: { self_signed: true }\n    http3: ${http3}\n`);
  assert.match(refusal(web('      - pool: app\n', '    http3: true\n')), /listeners\[0\]\.http3: expected http3 only on an https listener/);
  assert.match(refusal(https('{ enabled: false, retry: always }')), /listeners\[0\]\.http3\.retry: expected http3\.retry only with HTTP\/3 enabled/);
  assert.match(refusal(https('{ retry: sometimes }')), /listeners\[0\]\.http3\.retry/);
  const off = parseConfigText(https('false'), 'edge.yaml', '/tmp').config.listeners[0].http3;
  assert.equal(off.enabled, false);
  // these two load only where the HTTP/3 addon is built (npm test builds it); without it check refuses them
  // (test/e2e/h3/h3.test.ts, "without the addon")
  const on = parseConfigText(https('true'), 'edge.yaml', '/tmp').config.listeners[0].http3;
  assert.deepEqual({ ...on }, { enabled: true, max_concurrent_streams: 100, qpack_table_size: 4096, qpack_blocked_streams: 100, retry: 'under_load', retry_above: 100, alt_svc_max_age: 86_400_000 });
  const tuned = parseConfigText(https('{ max_concurrent_streams: 20, idle_timeout: 5s, qpack_table_size: 0kb, retry: always, alt_svc_max_age: 1h }'), 'edge.yaml', '/tmp').config.listeners[0].http3;
  assert.equal(tuned.idle_timeout, 5000);
  assert.equal(tuned.qpack_table_size, 0);
  assert.equal(tuned.alt_svc_max_age, 3_600_000);
});
