// The conformance suite of the request pipeline: the same cases on every protocol pair — HTTP/1.1, h2c and
// HTTP/2 over TLS clients × HTTP/1.1, HTTP/1.1 over TLS, h2c and gRPC pools — against a real `switchyard
// start` whose access log goes to a file. Each case is one test per pair (`<case> › <client> → <pool>`), so
// a pair that diverges is one failing cell with its name. Where gRPC has its own form of an answer, the gRPC
// cells assert that form: an error status is either that HTTP status (gRPC clients map it) or a trailers-only
// answer carrying the mapped grpc-status, a client deadline (grpc-timeout) is DEADLINE_EXCEEDED, and gRPC's
// own retry-safety rule stands in for `retries.on` / `methods`. Known divergences are `todo` cells whose
// reason names the cause; they still run, so a fix shows up as a passing todo.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { makeCert, tempDir } from '../tls/support.ts';
import { grpcCodeForHttp } from '../../../src/h2/grpc.ts';
import { OriginBook, grpcPath, startGrpc, startH2c, startHttp1, startHttps, upstreamKinds, type Answer, type Backend, type UpstreamKind } from './origins.ts';
import { AccessLogFile, downstreamKinds, send, type DownstreamKind, type Edge, type Reply, type Request } from './clients.ts';

interface Pair {
  down: DownstreamKind;
  up: UpstreamKind;
  name: string;
}

const downName: Record<DownstreamKind, string> = { h1: 'HTTP/1.1', h2c: 'HTTP/2 (h2c)', h2tls: 'HTTP/2 (TLS)' };
const upName: Record<UpstreamKind, string> = { h1: 'HTTP/1.1 pool', h1tls: 'HTTP/1.1+TLS pool', h2c: 'h2c pool', grpc: 'gRPC pool' };
const pairs: Pair[] = downstreamKinds.flatMap((down) => upstreamKinds.map((up) => ({ down, up, name: `${downName[down]} → ${upName[up]}` })));

/** Cells known to fail, with the failure as observed: `<case> › <pair name>` → what happens. */
const todo = new Map<string, string>();

/** The routes' sub-paths: one route (and for most, one pool) per case; `nowhere` has no route. */
const subs = ['route', 'retry', 'noretry', 'budget', 'slow', 'hold', 'headers', 'plain'];

const prefixOf = (up: UpstreamKind, sub: string) => (up === 'grpc' ? `/grpc.${sub}.` : `/${up}/${sub}/`);
const pathOf = (up: UpstreamKind, sub: string) => (up === 'grpc' ? grpcPath(sub) : `/${up}/${sub}/x`);

function routesFor(up: UpstreamKind): string {
  const route = (name: string, sub: string, pool: string, extra = '') => `      - { name: ${up}-${name}, match: { path_prefix: "${prefixOf(up, sub)}"${extra} }, pool: ${up}-${pool} }\n`;
  return (
    route('host', 'route', 'b', ', host: alt.test') +
    route('method', 'route', 'b', ', methods: [POST]') +
    route('default', 'route', 'a') +
    route('retry', 'retry', 'retry') +
    route('noretry', 'noretry', 'noretry') +
    route('budget', 'budget', 'budget') +
    `      - { name: ${up}-slow, match: { path_prefix: "${prefixOf(up, 'slow')}" }, pool: ${up}-a, timeouts: { upstream_response: 300ms } }\n` +
    route('hold', 'hold', 'a') +
    `      - name: ${up}-headers
        match: { path_prefix: "${prefixOf(up, 'headers')}" }
        pool: ${up}-a
        middleware:
          - headers:
              request: { set: { x-client: "{client_ip}", x-rid: "{request_id}" }, add: { x-via-host: "{host}" }, remove: [x-drop] }
              response: { set: { x-edge: conformance }, remove: [x-internal] }
` +
    route('plain', 'plain', 'a')
  );
}

describe('the request pipeline on every protocol pair', { timeout: 300_000 }, () => {
  const book = new OriginBook();
  const backends: Record<string, Backend> = {};
  let dir: { dir: string; remove: () => Promise<void> };
  let switchyard: RunningSwitchyard;
  let access: AccessLogFile;
  const edge: Edge = { port: { h1: 0, h2c: 0, h2tls: 0 } };
  let stderr = '';
  let sequence = 0;
  const nextId = (what: string) => `conf-${what}-${++sequence}`;

  before(async () => {
    dir = await tempDir('sy-conformance-');
    const originCert = await makeCert(path.join(dir.dir, 'origin'), 'origin', ['origin.test']);
    const edgeCert = await makeCert(path.join(dir.dir, 'edge'), 'edge', ['edge.test', 'alt.test']);
    const [cert, key] = [await readFile(originCert.cert), await readFile(originCert.key)];
    for (const name of ['a', 'b']) {
      backends[`h1-${name}`] = await startHttp1(book, name);
      backends[`h1tls-${name}`] = await startHttps(book, name, cert, key);
      backends[`h2c-${name}`] = await startH2c(book, name);
      backends[`grpc-${name}`] = await startGrpc(book, name, subs);
    }
    const accessFile = path.join(dir.dir, 'access.log');
    let pools = '';
    for (const up of upstreamKinds) {
      const kind = up === 'h1tls' ? `tls: { ca: "${originCert.caCert}", servername: origin.test }` : up === 'h1' ? 'protocol: http1' : `protocol: ${up}`;
      const both = `[ { address: "${backends[`${up}-a`].address}" }, { address: "${backends[`${up}-b`].address}" } ]`;
      pools += `  ${up}-a: { ${kind}, backends: [ { address: "${backends[`${up}-a`].address}" } ] }
  ${up}-b: { ${kind}, backends: [ { address: "${backends[`${up}-b`].address}" } ] }
  ${up}-retry: { ${kind}, backends: ${both}, retries: { attempts: 1, on: [connect_error, reset, 503] } }
  ${up}-noretry: { ${kind}, backends: ${both}, retries: { attempts: 1, on: [connect_error, reset] } }
  ${up}-budget: { ${kind}, backends: ${both}, retries: { attempts: 1, on: [connect_error, reset, 503], budget_percent: 0 } }
`;
    }
    const routes = upstreamKinds.map(routesFor).join('');
    const listener = (name: string, protocol: string, tls = '') => `  - name: ${name}
    listen: 127.0.0.1:0
    protocol: ${protocol}
${tls}    forwarded: { headers: [x-forwarded-for, x-real-ip, x-forwarded-proto, x-forwarded-host, forwarded] }
    limits: { max_body_size: 1kb, max_header_size: 4kb }
${protocol === 'http' ? '' : '    http2: { max_header_list_size: 4kb }\n'}    routes:
${routes}`;
    const yaml = `log: { access_log: "${accessFile}" }
pools:
${pools}listeners:
${listener('web', 'http')}${listener('clear', 'h2c')}${listener('secure', 'https', `    tls: { certificates: [ { cert: "${edgeCert.cert}", key: "${edgeCert.key}" } ] }\n`)}`;
    switchyard = await runSwitchyard(yaml, { timeoutMs: 30_000 });
    switchyard.process.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
    edge.port = { h1: switchyard.ready.listeners.web.port, h2c: switchyard.ready.listeners.clear.port, h2tls: switchyard.ready.listeners.secure.port };
    access = new AccessLogFile(accessFile);
  });

  after(async () => {
    access?.close();
    await switchyard?.stop();
    book.release();
    for (const backend of Object.values(backends)) await backend.close();
    await dir?.remove();
  });

  /** Sends a case's request: gRPC pools get a gRPC call (always POST), the others a plain request. */
  const call = (pair: Pair, sub: string, request: Partial<Request> & { id?: string; mode?: string } = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...request.headers };
    if (request.id !== undefined) headers['x-conf-id'] = request.id;
    if (request.mode !== undefined) headers['x-mode'] = request.mode;
    if (request.id !== undefined && headers['x-request-id'] === undefined) headers['x-request-id'] = request.id;
    const grpc = pair.up === 'grpc';
    return send(edge, pair.down, { path: pathOf(pair.up, sub), ...request, headers, grpc, body: request.body ?? (grpc ? Buffer.from('{}') : undefined) });
  };

  const answerOf = (reply: Reply): Answer => JSON.parse(reply.body.toString('utf8')) as Answer;

  /** A passing answer: HTTP 200 (and grpc-status 0 on gRPC). */
  const assertOk = (pair: Pair, reply: Reply) => {
    assert.equal(reply.status, 200, `status (body: ${reply.body.toString('latin1').slice(0, 200)})`);
    if (pair.up === 'grpc') assert.equal(reply.trailers['grpc-status'], '0', `grpc-status (${reply.trailers['grpc-message']})`);
  };

  /**
   * An error status, in the pair's form: a gRPC call gets it either as that HTTP status (which a gRPC client
   * maps to its code, PROTOCOL-HTTP2's HTTP-to-gRPC mapping) or as a trailers-only answer (HTTP 200) carrying
   * the code the mapping gives.
   */
  const assertStatus = (pair: Pair, reply: Reply, status: number) => {
    if (pair.up === 'grpc' && reply.status === 200) {
      assert.equal(reply.trailers['grpc-status'], String(grpcCodeForHttp(status)), `grpc-status for ${status}`);
    } else {
      assert.equal(reply.status, status, `status (body: ${reply.body.toString('latin1').slice(0, 200)})`);
    }
  };

  const cell = (name: string, run: (pair: Pair) => Promise<void>) => {
    describe(name, () => {
      for (const pair of pairs) {
        const known = todo.get(`${name} › ${pair.name}`);
        it(pair.name, { timeout: 12_000, ...(known === undefined ? {} : { todo: known }) }, () => run(pair));
      }
    });
  };

  cell('routing by host, method and path', async (pair) => {
    const byHost = await call(pair, 'route', { id: nextId('host'), host: 'alt.test' });
    assertOk(pair, byHost);
    assert.equal(answerOf(byHost).origin, 'b');
    const hostLine = await access.line(answerOf(byHost).headers['x-request-id']);
    assert.equal(hostLine.route, `${pair.up}-host`);
    const byMethod = await call(pair, 'route', { id: nextId('method'), method: 'POST', body: pair.up === 'grpc' ? undefined : Buffer.from('x') });
    assertOk(pair, byMethod);
    assert.equal(answerOf(byMethod).origin, 'b');
    assert.equal((await access.line(answerOf(byMethod).headers['x-request-id'])).route, `${pair.up}-method`);
    if (pair.up !== 'grpc') {
      // gRPC calls are all POST: the GET leg is for the other pools
      const byDefault = await call(pair, 'route', { id: nextId('default') });
      assertOk(pair, byDefault);
      assert.equal(answerOf(byDefault).origin, 'a');
      assert.equal(answerOf(byDefault).path, pathOf(pair.up, 'route'));
      assert.equal((await access.line(answerOf(byDefault).headers['x-request-id'])).route, `${pair.up}-default`);
    }
    const id = nextId('nowhere');
    const unrouted = pair.up === 'grpc' ? `/grpc.nowhere.Conf/${id}` : `/${pair.up}/nowhere/${id}`;
    const nowhere = await call(pair, 'nowhere', { id, path: unrouted });
    assertStatus(pair, nowhere, 404);
    assert.equal(book.seen.has(id), false, 'no route: nothing reaches an origin');
    const line = await access.find((entry) => entry.path === unrouted, `path ${unrouted}`);
    assert.equal(line.status, 404);
  });

  cell('retries: a backend that fails once is retried on the other', async (pair) => {
    const id = nextId('retry');
    const reply = await call(pair, 'retry', { id, mode: 'fail-once' });
    assertOk(pair, reply);
    const tries = book.seen.get(id) ?? [];
    assert.equal(tries.length, 2, 'two tries reached the origins');
    assert.notEqual(tries[0].origin, tries[1].origin, 'the retry went to the other backend');
    assert.equal(answerOf(reply).origin, tries[1].origin);
    const line = await access.line(id);
    assert.equal(line.status, 200);
    assert.equal(line.attempts, 2);
    assert.deepEqual(line.tried, [backends[`${pair.up}-${tries[0].origin}`].address]);
    assert.equal(line.backend, backends[`${pair.up}-${tries[1].origin}`].address);
  });

  cell('retries.on: a failure not listed is answered, not retried (gRPC: UNAVAILABLE before headers is always safe)', async (pair) => {
    const id = nextId('noretry');
    const reply = await call(pair, 'noretry', { id, mode: 'fail-once' });
    const line = await access.line(id);
    if (pair.up === 'grpc') {
      assertOk(pair, reply);
      assert.equal(book.seen.get(id)?.length, 2);
      assert.equal(line.attempts, 2);
      return;
    }
    assert.equal(reply.status, 503);
    assert.equal(book.seen.get(id)?.length, 1, 'one try');
    assert.equal(line.status, 503);
    assert.ok(line.attempts === undefined || line.attempts === 1, `attempts ${String(line.attempts)}`);
  });

  cell('retries.methods: a POST that reached a backend is not resent (gRPC: a call that failed after its headers)', async (pair) => {
    const id = nextId('post');
    const reply = await call(pair, 'retry', pair.up === 'grpc' ? { id, mode: 'fail-late' } : { id, mode: 'fail-once', method: 'POST', body: Buffer.from('once') });
    assertStatus(pair, reply, 503);
    assert.equal(book.seen.get(id)?.length, 1, 'one try');
    const line = await access.line(id);
    assert.ok(line.attempts === undefined || line.attempts === 1, `attempts ${String(line.attempts)}`);
  });

  cell('retries: the budget bounds retries in flight (3 with budget_percent 0), the rest are answered', async (pair) => {
    const prefix = nextId('budget');
    const ids = Array.from({ length: 6 }, (_, index) => `${prefix}-${index}`);
    let answered = 0;
    let threeAnswered: () => void;
    const refusals = new Promise<void>((resolve) => (threeAnswered = resolve));
    const replies = ids.map((id) =>
      call(pair, 'budget', { id, mode: 'budget' }).then((reply) => {
        if (++answered === 3) threeAnswered();
        return { id, reply };
      }),
    );
    // six first tries fail; three retries are held at the origins, three requests are over the budget.
    // A first try reaching its origin is not its failure reaching the edge: the held retries are released
    // only once the three refusals are back, else a late failure would find the budget free again.
    await book.waitForArrivals(`${prefix}-`, 9);
    await refusals;
    book.release();
    const settled = await Promise.all(replies);
    const passed = settled.filter(({ reply }) => reply.status === 200 && (pair.up !== 'grpc' || reply.trailers['grpc-status'] === '0'));
    const refused = settled.filter((entry) => !passed.includes(entry));
    assert.equal(passed.length, 3, 'retried within the budget');
    assert.equal(refused.length, 3, 'over the budget');
    for (const { reply, id } of refused) {
      assertStatus(pair, reply, 503);
      assert.equal(book.seen.get(id)?.length, 1);
    }
    for (const { id } of passed) assert.equal((await access.line(id)).attempts, 2);
  });

  cell('forwarded headers, request id and trace context reach the upstream', async (pair) => {
    const id = nextId('fwd');
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const reply = await call(pair, 'plain', { id, headers: { 'x-forwarded-for': '203.0.113.9', traceparent: `00-${trace}-00f067aa0ba902b7-01` } });
    assertOk(pair, reply);
    const seen = answerOf(reply).headers;
    const proto = pair.down === 'h2tls' ? 'https' : 'http';
    assert.equal(seen['x-forwarded-for'], '127.0.0.1', 'an untrusted client cannot forge its address');
    assert.equal(seen['x-real-ip'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], proto);
    assert.equal(seen['x-forwarded-host'], 'edge.test');
    assert.match(seen.forwarded ?? '', new RegExp(`^(?=.*for=127\\.0\\.0\\.1)(?=.*proto=${proto})(?=.*host=("?)edge\\.test\\1)`));
    assert.equal(seen['x-request-id'], id, 'the client request id is kept');
    assert.match(seen.traceparent ?? '', new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));
    assert.ok(!seen.traceparent.includes('00f067aa0ba902b7'), 'the parent is the edge span');
    // without a request id, one is made and logged
    const generated = await call(pair, 'plain', { headers: { 'x-conf-id': nextId('gen') } });
    const made = answerOf(generated).headers['x-request-id'] ?? '';
    assert.match(made, /^[0-9a-f]{16}-[0-9a-z]+$/);
    const line = await access.line(made);
    assert.equal(line.trace_id, (answerOf(generated).headers.traceparent ?? '').split('-')[1]);
  });

  cell('access log: one JSON line per request with the same fields', async (pair) => {
    const id = nextId('log');
    const reply = await call(pair, 'plain', { id });
    assertOk(pair, reply);
    const line = await access.line(id);
    const seen = answerOf(reply).headers;
    assert.equal(line.request_id, id);
    assert.equal(line.trace_id, seen.traceparent.split('-')[1]);
    assert.equal(line.status, 200);
    assert.equal(line.route, `${pair.up}-plain`);
    assert.equal(line.pool, `${pair.up}-a`);
    assert.equal(line.backend, backends[`${pair.up}-a`].address);
    assert.equal(line.client, '127.0.0.1');
    assert.equal(line.method, pair.up === 'grpc' ? 'POST' : 'GET');
    assert.equal(line.host, 'edge.test');
    assert.equal(line.path, pathOf(pair.up, 'plain'));
    for (const key of ['bytes_in', 'bytes_out', 'connect_ms', 'first_byte_ms', 'total_ms']) assert.equal(typeof line[key], 'number', `${key}: ${JSON.stringify(line)}`);
    assert.ok((line.total_ms as number) >= (line.first_byte_ms as number), 'timings in order');
    assert.ok(line.attempts === undefined || line.attempts === 1);
    if (pair.down !== 'h1') assert.equal(line.protocol, 'h2');
    if (pair.up === 'grpc') assert.equal(line.grpc_status, '0');
  });

  cell('timeouts: no response head within upstream_response is 504 (gRPC: and grpc-timeout is DEADLINE_EXCEEDED)', async (pair) => {
    if (pair.up === 'grpc') {
      const id = nextId('deadline');
      const reply = await call(pair, 'hold', { id, mode: 'hold', headers: { 'grpc-timeout': '300m' } });
      assert.equal(reply.trailers['grpc-status'], '4', `DEADLINE_EXCEEDED (${reply.trailers['grpc-message']})`);
    }
    const id = nextId('slow');
    const started = performance.now();
    const reply = await call(pair, 'slow', { id, mode: 'hold' });
    assertStatus(pair, reply, 504);
    assert.ok(performance.now() - started < 5000);
    assert.equal((await access.line(id)).status, 504);
  });

  cell('limits: a body over max_body_size is 413 and never reaches the upstream', async (pair) => {
    const id = nextId('big');
    const reply = await call(pair, 'plain', { id, method: 'POST', body: Buffer.alloc(2048, 'x') });
    assertStatus(pair, reply, 413);
    assert.equal(book.seen.has(id), false);
  });

  cell('limits: a head over max_header_size (HTTP/2: http2.max_header_list_size) is 431 and never reaches the upstream', async (pair) => {
    const id = nextId('head');
    const reply = await call(pair, 'plain', { id, headers: { 'x-big': 'b'.repeat(6000) } });
    assertStatus(pair, reply, 431);
    assert.equal(book.seen.has(id), false);
  });

  cell('the headers filter edits the request going up and the response coming back', async (pair) => {
    const id = nextId('headers');
    const reply = await call(pair, 'headers', { id, headers: { 'x-drop': 'please' } });
    assertOk(pair, reply);
    const seen = answerOf(reply).headers;
    assert.equal(seen['x-client'], '127.0.0.1');
    assert.equal(seen['x-rid'], id);
    assert.equal(seen['x-via-host'], 'edge.test');
    assert.equal(seen['x-drop'], undefined);
    assert.equal(reply.headers['x-edge'], 'conformance');
    assert.equal(reply.headers['x-internal'], undefined);
    assert.equal(reply.headers['x-origin'], 'a');
  });

  const abandoned = (mode: 'reset' | 'close') => async (pair: Pair) => {
    const id = nextId(`gone-${mode}`);
    const arrived = new Promise<void>((resolve) => {
      const check = (seenId: string) => {
        if (seenId !== id) return;
        book.arrived.off('request', check);
        resolve();
      };
      book.arrived.on('request', check);
    });
    await assert.rejects(call(pair, 'hold', { id, mode: 'hold', abortWhen: arrived, abortMode: mode }));
    const line = await access.line(id).catch((err: Error) => {
      throw new Error(`${err.message}; the last lines: ${JSON.stringify(access.lines.slice(-3))}`);
    });
    assert.equal(line.status, 499);
    assert.equal(line.route, `${pair.up}-hold`);
  };

  cell('a request the client abandons (HTTP/1.1: connection reset; HTTP/2: stream cancelled) is logged as 499', abandoned('reset'));

  cell('a request whose client closes its connection (FIN) while it waits is logged as 499', abandoned('close'));

  it('the edge process is still running after every case', () => {
    const exited = switchyard.process.exitCode ?? switchyard.process.signalCode;
    assert.equal(exited, null, `the edge exited (${String(exited)}); its last lines: ${JSON.stringify(switchyard.lines.slice(-10))}; stderr: ${stderr}`);
  });
});
