// telemetry.otlp on a real `switchyard start` (one worker): spans of requests over HTTP/1.1 (curl) and
// HTTP/2 (curl --http2-prior-knowledge on an h2c listener) reach a small OTLP/HTTP JSON collector run by
// the test, continuing the client's trace, with a child per phase (headers read, the pick with its policy
// and candidates, the upstream's connect, wait and response); the origin's traceparent names an exported span; a collector
// that is down costs spans (counted), not latency; sample 0 exports nothing the edge started; `check`
// refuses an endpoint that is not a URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cliEntry, node24, runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { refusedPort, startRecordingOrigin, type RecordingOrigin } from '../../support/origins.ts';
import { cleanupStack } from '../../support/cleanup.ts';
import { startH2Origin } from '../h2/h2-origin.ts';

const run = promisify(execFile);
const defer = cleanupStack();

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string; boolValue?: boolean } }[];
}

interface Collector {
  port: number;
  spans: Span[];
  contentTypes: Set<string>;
  /** Resolves once a span satisfying `predicate` has arrived. */
  waitFor(predicate: (span: Span) => boolean): Promise<Span>;
}

/** An OTLP/HTTP JSON collector: keeps every span of every ExportTraceServiceRequest POSTed to /v1/traces. */
async function startCollector(): Promise<Collector> {
  const spans: Span[] = [];
  const contentTypes = new Set<string>();
  const waiters = new Set<{ predicate: (span: Span) => boolean; resolve: (span: Span) => void }>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      contentTypes.add(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const parsed = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: Span[] }[] }[] };
      for (const resource of parsed.resourceSpans) {
        for (const scope of resource.scopeSpans) {
          for (const span of scope.spans) {
            spans.push(span);
            for (const waiter of waiters) {
              if (waiter.predicate(span)) {
                waiters.delete(waiter);
                waiter.resolve(span);
              }
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(() => new Promise((resolve) => server.close(resolve)));
  return {
    port: (server.address() as { port: number }).port,
    spans,
    contentTypes,
    waitFor: (predicate) => {
      const found = spans.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.add({ predicate, resolve }));
    },
  };
}

const edgeConfig = (origin: RecordingOrigin, endpoint: string, sample: number, admin = false, h2Origin = ''): string => `
${admin ? 'admin: { listen: 127.0.0.1:0 }' : ''}
telemetry:
  otlp: { endpoint: ${JSON.stringify(endpoint)}, sample: ${sample}, batch: { size: 512, interval: 100ms }, timeout: 1s }
pools:
  app:
    backends: [ { address: ${origin.address} } ]
${h2Origin === '' ? '' : `  h2app:\n    protocol: h2c\n    backends: [ { address: ${h2Origin} } ]`}
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes: [ { name: api, match: { path_prefix: / }, pool: app } ]
  - name: h2
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
${h2Origin === '' ? '' : '      - { name: h2up, match: { path_prefix: /h2up }, pool: h2app }'}
      - { name: api2, match: { path_prefix: / }, pool: app }
`;

async function edge(yaml: string): Promise<RunningSwitchyard> {
  const sy = await runSwitchyard(yaml);
  defer(() => sy.stop());
  return sy;
}

async function curl(args: string[], output = '/dev/null'): Promise<void> {
  await run('curl', ['-sS', '-o', output, '--max-time', '5', ...args], { timeout: 10_000 });
}

const hex = (bytes: number): string => Array.from({ length: bytes * 2 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('').replace(/^0/, '1');
const attr = (span: Span, key: string): string | undefined => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.intValue;
};

test('sample 1: HTTP/1.1 and HTTP/2 requests become SERVER spans continuing the client trace, with phase children', { timeout: 20_000 }, async () => {
  const collector = await startCollector();
  const origin = await startRecordingOrigin();
  defer(() => origin.close());
  const h2Origin = await startH2Origin('h2');
  defer(() => h2Origin.close());
  const sy = await edge(edgeConfig(origin, `http://127.0.0.1:${collector.port}/v1/traces`, 1, false, h2Origin.address));
  const cases = [
    { path: '/h1/one', args: [`http://127.0.0.1:${sy.ready.listeners.web.port}/h1/one`], traceId: hex(16), parent: hex(8), protocol: '1.1', route: 'api' },
    { path: '/h2/two', args: ['--http2-prior-knowledge', `http://127.0.0.1:${sy.ready.listeners.h2.port}/h2/two`], traceId: hex(16), parent: hex(8), protocol: '2', route: 'api2' },
  ];
  for (const c of cases) await curl(['-H', `traceparent: 00-${c.traceId}-${c.parent}-01`, ...c.args]);
  for (const c of cases) {
    const server = await collector.waitFor((span) => span.traceId === c.traceId && span.kind === 2);
    assert.equal(server.parentSpanId, c.parent, 'the SERVER span continues the client span');
    assert.match(server.spanId, /^[0-9a-f]{16}$/);
    assert.match(server.startTimeUnixNano, /^\d{19}$/);
    assert.ok(BigInt(server.endTimeUnixNano) >= BigInt(server.startTimeUnixNano));
    assert.ok(Math.abs(Number(BigInt(server.startTimeUnixNano) / 1_000_000n) - Date.now()) < 60_000, 'span times are epoch nanoseconds');
    assert.equal(attr(server, 'http.request.method'), 'GET');
    assert.equal(attr(server, 'url.path'), c.path);
    assert.match(attr(server, 'server.address') ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(attr(server, 'http.response.status_code'), '200');
    assert.equal(attr(server, 'network.peer.address'), '127.0.0.1');
    assert.equal(attr(server, 'network.protocol.version'), c.protocol);
    assert.equal(attr(server, 'switchyard.route'), c.route);
    assert.equal(attr(server, 'switchyard.pool'), 'app');
    assert.equal(attr(server, 'switchyard.backend'), origin.address);
    // the children arrive in the same export as their SERVER span
    const children = collector.spans.filter((span) => span.traceId === c.traceId && span.parentSpanId === server.spanId);
    // a request on a kept-alive upstream connection has no connect phase; curl's first request here opens one
    // a new HTTP/1.1 connection's first request may also have `accept` (accept to its first byte), checked below
    assert.deepEqual(children.map((span) => span.name).filter((name) => name !== 'accept').sort(), ['headers read', 'pick', 'upstream connect', 'upstream response', 'upstream wait']);
    assert.ok(children.every((span) => span.kind === 1));
    assert.ok(children.filter((span) => span.name !== 'headers read' && span.name !== 'accept').every((span) => attr(span, 'switchyard.backend') === origin.address));
    const byName = (name: string): Span => children.find((span) => span.name === name)!;
    const pick = byName('pick');
    assert.equal(attr(pick, 'switchyard.balance'), 'round_robin');
    assert.equal(attr(pick, 'switchyard.candidates'), `*${origin.address} usable 0/1`, 'the one backend, usable, none in flight, weight 1, chosen');
    assert.equal(pick.startTimeUnixNano, pick.endTimeUnixNano, 'the pick is a point in time');
    const headers = byName('headers read');
    assert.ok(BigInt(headers.endTimeUnixNano) <= BigInt(pick.startTimeUnixNano), 'headers read, then the pick');
    assert.ok(BigInt(pick.startTimeUnixNano) <= BigInt(byName('upstream connect').startTimeUnixNano), 'the pick, then the connect');
    assert.ok(BigInt(headers.startTimeUnixNano) >= BigInt(server.startTimeUnixNano) && BigInt(headers.endTimeUnixNano) >= BigInt(headers.startTimeUnixNano), 'headers read from its first byte (a head in one read: a point)');
    const accept = children.find((span) => span.name === 'accept');
    if (c.protocol === '2') assert.equal(accept, undefined, 'an HTTP/2 stream has no accept of its own');
    else if (accept !== undefined) assert.ok(accept.startTimeUnixNano === server.startTimeUnixNano && accept.endTimeUnixNano === headers.startTimeUnixNano, `accept, then the head from the first byte: ${JSON.stringify([server.startTimeUnixNano, accept.startTimeUnixNano, accept.endTimeUnixNano, headers.startTimeUnixNano])}`);
    for (const child of children) assert.ok(BigInt(child.startTimeUnixNano) >= BigInt(server.startTimeUnixNano) && BigInt(child.endTimeUnixNano) <= BigInt(server.endTimeUnixNano), `${child.name} lies within the request`);
    // what went upstream names the exported SERVER span as its parent
    const sent = new RegExp(`traceparent: 00-${c.traceId}-([0-9a-f]{16})-01`, 'i').exec(origin.received());
    assert.ok(sent, 'the origin received the trace');
    assert.equal(sent[1], server.spanId);
  }
  // HTTP/2 to an h2c pool (src/h2's own proxying): the same SERVER span, named by the traceparent the origin got
  const traceId = hex(16);
  const parent = hex(8);
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-otlp-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const body = path.join(dir, 'body.json');
  await curl(['-H', `traceparent: 00-${traceId}-${parent}-01`, '--http2-prior-knowledge', `http://127.0.0.1:${sy.ready.listeners.h2.port}/h2up/three`], body);
  const echoed = JSON.parse(await readFile(body, 'utf8')) as { headers: Record<string, string> };
  const server = await collector.waitFor((span) => span.traceId === traceId && span.kind === 2);
  assert.equal(server.parentSpanId, parent);
  assert.equal(echoed.headers.traceparent, `00-${traceId}-${server.spanId}-01`);
  assert.equal(attr(server, 'switchyard.pool'), 'h2app');
  assert.equal(attr(server, 'network.protocol.version'), '2');
  assert.ok(collector.spans.some((span) => span.traceId === traceId && span.parentSpanId === server.spanId && span.name === 'upstream response'));
  const h2Pick = collector.spans.find((span) => span.traceId === traceId && span.parentSpanId === server.spanId && span.name === 'pick');
  assert.ok(h2Pick, 'an h2c pool\'s pick is a span too');
  assert.equal(attr(h2Pick, 'switchyard.candidates'), `*${h2Origin.address} usable 0/1`);
  assert.deepEqual([...collector.contentTypes], ['POST /v1/traces application/json']);
});

test('collector down: requests are answered at once and the worker counts the dropped spans', { timeout: 20_000 }, async () => {
  const origin = await startRecordingOrigin();
  defer(() => origin.close());
  const sy = await edge(edgeConfig(origin, `http://127.0.0.1:${await refusedPort()}/v1/traces`, 1, true));
  const started = performance.now();
  for (let i = 0; i < 20; i++) await curl([`http://127.0.0.1:${sy.ready.listeners.web.port}/down/${i}`]);
  assert.ok(performance.now() - started < 5_000, '20 requests take well under the export timeout each');
  const token = (await readFile(path.join(sy.dir, 'data', 'admin.token'), 'utf8')).trim();
  type Status = { traffic: { telemetry?: { dropped: number; exported: number; failures: number; lastError: string } }[] };
  // the failed exports are counted as they fail (every 100 ms): poll the status until they show
  const deadline = Date.now() + 10_000;
  let telemetry: Status['traffic'][number]['telemetry'];
  while (Date.now() < deadline) {
    const status = (await (await fetch(`http://127.0.0.1:${sy.ready.admin!.port}/api/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as Status;
    telemetry = status.traffic[0].telemetry;
    if (telemetry !== undefined && telemetry.dropped >= 20) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(telemetry, 'the worker reports telemetry in its status');
  assert.ok(telemetry.dropped >= 20, `the spans of 20 requests dropped, got ${JSON.stringify(telemetry)}`);
  assert.equal(telemetry.exported, 0);
  assert.ok(telemetry.failures > 0);
  assert.match(telemetry.lastError, /ECONNREFUSED/);
});

test('sample 0: traces the edge starts are not exported, a client trace marked sampled still is; a reload to sample 1 exports them', { timeout: 20_000 }, async () => {
  const collector = await startCollector();
  const origin = await startRecordingOrigin();
  defer(() => origin.close());
  const sy = await edge(edgeConfig(origin, `http://127.0.0.1:${collector.port}/v1/traces`, 0));
  for (let i = 0; i < 5; i++) await curl([`http://127.0.0.1:${sy.ready.listeners.web.port}/unsampled/${i}`]);
  const unsampled = await Promise.all([0, 1, 2, 3, 4].map((i) => sy.waitForLine((line) => line.path === `/unsampled/${i}`)));
  // a later, sampled request: once its span arrives, any span of the earlier ones (queued first) would have too
  const traceId = hex(16);
  await curl(['-H', `traceparent: 00-${traceId}-${hex(8)}-01`, `http://127.0.0.1:${sy.ready.listeners.web.port}/sampled`]);
  await collector.waitFor((span) => span.traceId === traceId && span.kind === 2);
  const ids = new Set(unsampled.map((line) => line.trace_id));
  assert.equal(ids.size, 5);
  assert.deepEqual(collector.spans.filter((span) => ids.has(span.traceId)), []);
  assert.ok(collector.spans.every((span) => span.traceId === traceId));

  // a reload reconfigures the worker's exporter: sample 1 exports the traces the edge starts
  await writeFile(sy.configFile, edgeConfig(origin, `http://127.0.0.1:${collector.port}/v1/traces`, 1));
  const reloaded = await run(node24, [cliEntry, 'reload', '-c', sy.configFile], { timeout: 15_000 });
  assert.match(reloaded.stdout, /sent SIGHUP/);
  await sy.waitForLine((line) => line.msg === 'reloaded');
  await curl([`http://127.0.0.1:${sy.ready.listeners.web.port}/after-reload`]);
  const line = await sy.waitForLine((entry) => entry.path === '/after-reload');
  const server = await collector.waitFor((span) => span.traceId === line.trace_id && span.kind === 2);
  assert.equal(server.parentSpanId, undefined, 'a trace the edge started has no parent');
});

test('check refuses a telemetry endpoint that is not an http(s) URL', { timeout: 20_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-otlp-check-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'edge.yaml');
  await writeFile(file, 'telemetry:\n  otlp: { endpoint: "127.0.0.1:4318/v1/traces", sample: 0.1 }\n');
  const failed = await run(node24, [cliEntry, 'check', file], { cwd: dir, timeout: 15_000 }).then(
    () => undefined,
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
  assert.ok(failed, 'check fails');
  assert.match(failed.stdout + failed.stderr, /edge\.yaml:2:\d+: telemetry\.otlp\.endpoint: expected an http:\/\/ or https:\/\/ URL/);
});
