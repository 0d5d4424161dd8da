// HTTP/2 → HTTP/1.1 downgrade, as a property: fast-check builds HTTP/2 requests with valid and hostile
// :method, :path, :authority, :scheme, regular fields and bodies, sends each as raw frames (HPACK literals
// without indexing, so any byte goes through) to an h2c listener, routed to an HTTP/1.1 pool whose origin is
// llhttp (node:http) recording what it parsed. A request the model calls malformed is refused (RST_STREAM
// or a 4xx) and nothing reaches the origin; a valid one reaches it as exactly one request with the sent
// method, the edge-normalised target (src/l7 normalizePath), the authority as Host, every sent field with
// its value unchanged and no connection-specific field; never an llhttp parse error, never a second
// request (bodies may hide one). The seed is printed on failure; FUZZ_SEED replays it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startEdge, type Edge } from './edge.ts';
import { startLlhttpOrigin, waitFor, type LlhttpOrigin, type SeenRequest } from '../l7/helpers.ts';
import { connectRaw, flag, frame, frameType as T, headerBlock, until } from '../../support/h2-frames.ts';
import { tempDir } from '../tls/support.ts';
import { normalizePath } from '../../../src/l7/index.ts';
// reads the edge's response HEADERS (possibly Huffman-coded, indexed): only to learn the :status
import { HpackDecoder } from '../../../src/h2/codec/hpack.ts';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const RUNS = 300;

/** A generated piece of the request and whether the model says it may be forwarded. */
interface Part {
  value: string;
  ok: boolean;
}
const good = (value: string): Part => ({ value, ok: true });
const bad = (value: string): Part => ({ value, ok: false });

// llhttp knows a fixed list of methods: any other token is valid HTTP but llhttp refuses it, which says
// nothing about the edge, so valid methods come from that list (CONNECT aside: a tunnel, not a request).
const methodOk = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'PURGE', 'QUERY').map(good);
const methodBad = fc.constantFrom('G T', 'GET ', 'G\tT', 'GET\r\nX: y', 'G\nT', 'GE\x00T', 'GÉT', '', 'GET /x HTTP/1.1\r\n', 'G(T', 'G:T').map(bad);

// origin-form paths, with dot segments and escapes the edge normalises or refuses (a climb above the root,
// %2f, %5c, %00, a malformed escape: 400): the expected target comes from normalizePath
const segment = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@-]{0,8}$/) },
  { weight: 2, arbitrary: fc.constantFrom('.', '..', '%2e', '%2E%2e', '.%2e', '%41b', '%7e', '%2f', '%2F', '%5c', '%00', '%zz', '%', '%c3%a9') },
);
const query = fc.option(fc.stringMatching(/^[A-Za-z0-9=&%./?_-]{0,12}$/), { nil: undefined });
const pathOk = fc.tuple(fc.array(segment, { minLength: 1, maxLength: 5 }), query).map(([parts, q]) => '/' + parts.join('/') + (q === undefined ? '' : '?' + q));
/** Bytes that make a :path malformed wherever they sit after its leading `/`. */
const pathPoison = fc.constantFrom(' ', '\t', '\r', '\n', '\r\n', '\x00', '\x01', '\x7f', 'é', '\u00ff', ' HTTP/1.1\r\nX: y');
const pathBad = fc.oneof(
  fc.tuple(pathOk, pathPoison, fc.nat()).map(([p, poison, at]) => {
    const i = 1 + (at % p.length);
    return p.slice(0, i) + poison + p.slice(i);
  }),
  // `*` is valid for OPTIONS only (expectedTarget knows)
  fc.constantFrom('*', 'a/b', 'x', 'http://a.test/x', 'https://a.test:443/', '//a.test/x', '?q', ''),
);

const host = fc.stringMatching(/^[a-z0-9-]{1,10}(\.[a-z0-9-]{1,8}){0,2}$/);
const authorityOk = fc.tuple(host, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(([h, port]) => good(port === undefined ? h : `${h}:${port}`));
const authorityBad = fc.tuple(host, fc.constantFrom('user@', 'u:p@', ' ', '\t', '\x00', '\x01', '\r\nX: y', '/', 'é', '"')).map(([h, poison]) => bad(poison.endsWith('@') ? poison + h : h + poison + 'x'));

/** A valid field value: no NUL/CR/LF, no whitespace at either end; spaces, tabs and obs-text inside. */
const fieldValue = fc.stringMatching(/^([!-~\x80-\xff]([ \t!-~\x80-\xff]{0,20}[!-~\x80-\xff])?)?$/);
interface Field {
  name: string;
  value: string;
  ok: boolean;
  /** Connection-specific, or te: never forwarded as sent. */
  hop: boolean;
}
const fieldOk = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,12}$/), fieldValue).map(([n, v]): Field => ({ name: n, value: v, ok: true, hop: false })) },
  { weight: 1, arbitrary: fc.constant<Field>({ name: 'te', value: 'trailers', ok: true, hop: true }) },
);
const fieldBad = fc.oneof(
  fc.tuple(fc.constantFrom('Upper', 'x Space', 'x:colon', 'x\ttab', 'é', 'x"q', 'x\x00'), fieldValue).map(([n, v]): Field => ({ name: n, value: v, ok: false, hop: false })),
  fc
    // CR, LF, NUL anywhere, whitespace at an end, and the other controls (RFC 9110 §5.5: invalid; llhttp
    // refuses them, as the HTTP/1.1 parser of the edge does)
    .tuple(fieldValue, fc.constantFrom(' lead', 'trail ', '\tlead', 'trail\t', 'a\rb', 'a\nb', 'a\r\nX-Injected: 1', 'a\x00b', '\r\n', 'a\x01b', 'a\x0bb', 'a\x1fb', 'a\x7fb'))
    .map(([v, poison]): Field => ({ name: 'x-val', value: poison.startsWith(' ') || poison.startsWith('\t') ? poison + v : v + poison, ok: false, hop: false })),
  fc
    .constantFrom<[string, string]>(['connection', 'close'], ['connection', 'keep-alive'], ['transfer-encoding', 'chunked'], ['keep-alive', 'timeout=5'], ['upgrade', 'websocket'], ['proxy-connection', 'keep-alive'], ['te', 'gzip'])
    .map(([n, v]): Field => ({ name: n, value: v, ok: false, hop: true })),
);

interface Body {
  data: string | undefined;
  length: string | undefined;
  ok: boolean;
}
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n';
/** A body may itself look like a request (what a smuggler hides). */
const bodyData = fc.oneof(fc.constant(SMUGGLED), fc.stringMatching(/^[ -~]{1,40}$/));
/** None, a body with a matching content-length, or one without. */
const bodyOk = fc.oneof(
  fc.constant<Body>({ data: undefined, length: undefined, ok: true }),
  bodyData.map((data): Body => ({ data, length: String(data.length), ok: true })),
  bodyData.map((data): Body => ({ data, length: undefined, ok: true })),
);
/** A content-length that lies about the body, or is a list. */
const bodyBad = bodyData.chain((data) => fc.constantFrom<Body>(
  { data, length: String(data.length + 1), ok: false },
  { data, length: String(data.length - 1), ok: false },
  { data, length: `${data.length}, ${data.length}`, ok: false },
));

interface Request {
  method: Part;
  path: string;
  authority: Part;
  scheme: Part;
  fields: Field[];
  body: Body;
}
type Defect = (r: Request) => Request;
// a valid request, then none, one or two defects: about half the runs are forwardable
const defect: fc.Arbitrary<Defect> = fc.oneof(
  methodBad.map((method): Defect => (r) => ({ ...r, method })),
  pathBad.map((path): Defect => (r) => ({ ...r, path })),
  authorityBad.map((authority): Defect => (r) => ({ ...r, authority })),
  fc.constant<Defect>((r) => ({ ...r, scheme: bad('') })),
  fc.tuple(fieldBad, fc.nat()).map(([f, at]): Defect => (r) => ({ ...r, fields: [...r.fields.slice(0, at % (r.fields.length + 1)), f, ...r.fields.slice(at % (r.fields.length + 1))] })),
  bodyBad.map((body): Defect => (r) => ({ ...r, body })),
);
const request: fc.Arbitrary<Request> = fc
  .tuple(
    fc.record({ method: methodOk, path: pathOk, authority: authorityOk, scheme: fc.constantFrom('http', 'https').map(good), fields: fc.array(fieldOk, { maxLength: 6 }), body: bodyOk }),
    fc.oneof(fc.constant([]), fc.array(defect, { minLength: 1, maxLength: 2 })),
  )
  .map(([r, defects]) => defects.reduce((out, apply) => apply(out), r));

const plain: Request = { method: good('POST'), path: '/a/./b/%7e?x=1', authority: good('a.test:8080'), scheme: good('http'), fields: [], body: { data: SMUGGLED, length: undefined, ok: true } };
/** Run first on every seed: a request as it is served, and defects found before (a control byte in a value). */
const EXAMPLES: [Request][] = [
  [plain],
  [{ ...plain, fields: [{ name: 'x-ctl', value: 'a\x01b', ok: false, hop: false }] }],
  [{ ...plain, fields: [{ name: 'x-del', value: 'a\x7fb', ok: false, hop: false }] }],
];

/** The target the origin must see, or null when the edge must refuse the request. */
function expectedTarget(r: Request): string | null {
  const p = r.path;
  if (p === '*') return r.method.value === 'OPTIONS' ? '*' : null;
  if (p.charCodeAt(0) !== 0x2f) return null;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) < 0x21 || p.charCodeAt(i) > 0x7e) return null;
  const q = p.indexOf('?');
  const normal = normalizePath(q < 0 ? p : p.slice(0, q));
  return normal === null ? null : normal + (q < 0 ? '' : p.slice(q));
}

function modelAccepts(r: Request): boolean {
  return r.method.ok && r.authority.ok && r.scheme.ok && r.body.ok && r.fields.every((f) => f.ok) && expectedTarget(r) !== null;
}

/** Unique names so the origin's merged header object shows each field as sent. */
function named(r: Request): Field[] {
  return r.fields.map((f, i) => (f.ok && !f.hop ? { ...f, name: `n${i}-${f.name}` } : f));
}

interface Outcome {
  status: number;
  reset: boolean;
  body: string;
}

/** One request on a fresh connection: its status, or that it was reset (stream or connection). */
async function exchange(port: number, r: Request, fields: Field[]): Promise<Outcome> {
  const raw = await connectRaw(port);
  try {
    const list: [string, string][] = [[':method', r.method.value], [':scheme', r.scheme.value], [':path', r.path], [':authority', r.authority.value]];
    if (r.body.length !== undefined) list.push(['content-length', r.body.length]);
    for (const f of fields) list.push([f.name, f.value]);
    const hasBody = r.body.data !== undefined;
    const out = [frame(T.HEADERS, flag.END_HEADERS | (hasBody ? 0 : flag.END_STREAM), 1, headerBlock(list))];
    if (hasBody) out.push(frame(T.DATA, flag.END_STREAM, 1, Buffer.from(r.body.data as string, 'latin1')));
    raw.socket.write(Buffer.concat(out));
    const ended = () => raw.frames.some((f) => f.streamId === 1 && (f.type === T.RST_STREAM || ((f.type === T.DATA || f.type === T.HEADERS) && f.flags & flag.END_STREAM)) || f.type === T.GOAWAY);
    await until(raw, ended, 5000);
    const decoder = new HpackDecoder();
    const decoded: string[] = [];
    let text = '';
    let reset = false;
    for (const f of raw.frames) {
      if (f.type === T.GOAWAY && f.payload.readUInt32BE(4) !== 0) reset = true;
      if (f.streamId !== 1) continue;
      if (f.type === T.RST_STREAM) reset = true;
      if (f.type === T.HEADERS) {
        const pad = f.flags & flag.PADDED ? f.payload[0] : 0;
        const start = (f.flags & flag.PADDED ? 1 : 0) + (f.flags & flag.PRIORITY ? 5 : 0);
        decoder.decode(f.payload, start, f.payload.length - pad, decoded);
      }
      if (f.type === T.DATA) text += f.payload.toString('latin1');
    }
    const at = decoded.indexOf(':status');
    const status = at >= 0 && at % 2 === 0 ? Number(decoded[at + 1]) : 0;
    if (!reset && status === 0) assert.fail(`no answer and no reset: ${JSON.stringify(raw.frames.map((f) => [f.type, f.streamId, f.flags]))}`);
    return { status, reset, body: text };
  } finally {
    raw.socket.destroy();
    await raw.closed;
  }
}

const CONNECTION_SPECIFIC = ['keep-alive', 'upgrade', 'proxy-connection'];

/** What llhttp parsed is exactly the request sent: method, normalised target, Host, fields, body. */
function assertArrived(seen: SeenRequest, r: Request, fields: Field[], body: string, label: string): void {
  assert.equal(seen.method, r.method.value, label);
  assert.equal(seen.url, expectedTarget(r), label);
  assert.equal(seen.headers.host, r.authority.value, label);
  for (const f of fields) {
    if (f.ok && !f.hop) assert.equal(seen.headers[f.name], f.value, `field ${f.name}: ${label}`);
  }
  for (const name of CONNECTION_SPECIFIC) assert.equal(seen.headers[name], undefined, `${name} forwarded: ${label}`);
  // a CR/LF inside a value never becomes a field of its own
  assert.equal(seen.headers['x-injected'], undefined, label);
  for (const f of fields) {
    if (f.name === 'connection' && f.value === 'close') assert.notEqual(seen.headers.connection, 'close', label);
    if (f.name === 'te' && seen.headers.te !== undefined) assert.equal(seen.headers.te, 'trailers', label);
  }
  assert.equal(seen.body.toString('latin1'), body, label);
}

/**
 * `strict`: the codec must refuse exactly what the model refuses. Otherwise (node:http2) a malformed request
 * may still be served (nghttp2 drops some invalid regular fields and serves the request without them); that
 * is acceptable only when what reaches the origin is a valid request: the same checks on what arrived.
 */
async function check(edge: Edge, origin: LlhttpOrigin, r: Request, strict: boolean): Promise<void> {
  const before = origin.seen.length;
  const fields = named(r);
  const accepted = modelAccepts(r);
  const out = await exchange(edge.port, r, fields);
  const served = !out.reset && out.status === 200;
  const label = JSON.stringify({ r, out });
  if (accepted) assert.ok(served, `a valid request was not served: ${label}`);
  else if (strict) assert.ok(out.reset || (out.status >= 400 && out.status < 500), `a malformed request was not refused: ${label}`);
  if (!served) {
    // nothing of it at the origin (an incomplete body may have started upstream, but never a whole request)
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(origin.errors, [], label);
    assert.equal(origin.seen.length, before, `a refused request reached the origin: ${label}`);
    return;
  }
  assert.ok(await waitFor(() => origin.seen.length > before), label);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(origin.errors, [], `llhttp parse error: ${label}`);
  assert.equal(origin.seen.length, before + 1, `not exactly one request at the origin: ${label}`);
  assertArrived(origin.seen[before], r, fields, r.body.data ?? '', label);
  if (r.method.value !== 'HEAD') assert.equal(out.body, `ok:${origin.seen[before].url}`, label);
}

for (const [name, engine] of [['codec', 'auto'], ['http2.engine: node', 'node']] as const) {
  describe(`h2 → HTTP/1.1 downgrade property (${name})`, () => {
    let dir: { dir: string; remove: () => Promise<void> };
    let origin: LlhttpOrigin;
    let edge: Edge;

    before(async () => {
      dir = await tempDir('sy-h2fuzz-');
      origin = await startLlhttpOrigin();
      edge = await startEdge(
        `
pools:
  origin: { backends: [ { address: "${origin.address}" } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: ${engine} }
    routes:
      - { match: { path_prefix: / }, pool: origin }
`,
        { baseDir: dir.dir, dataDir: dir.dir },
      );
      assert.equal((edge.listener.status() as { h2_engine: string }).h2_engine, engine === 'auto' ? 'codec' : 'node');
    });

    after(async () => {
      await edge.close();
      await origin.close();
      await dir.remove();
    });

    it('malformed requests are refused before the origin; valid ones reach llhttp as sent', { timeout: 60_000 }, async () => {
      try {
        await fc.assert(fc.asyncProperty(request, (r) => check(edge, origin, r, engine === 'auto')), { numRuns: RUNS, seed: SEED, endOnFailure: true, examples: EXAMPLES });
      } catch (err) {
        throw new Error(`replay with FUZZ_SEED=${SEED}: ${(err as Error).message}`, { cause: err });
      }
    });

    // on a warm pool (a first request opens the upstream connection): a 0 content-length does not end the
    // body before END_STREAM, so the stray DATA makes the request malformed before anything goes upstream
    it('content-length: 0 then a non-empty DATA is refused before the origin', async () => {
      await check(edge, origin, plain, true);
      const before = origin.seen.length;
      const out = await exchange(edge.port, { ...plain, body: { data: 'x', length: '0', ok: false } }, []);
      assert.ok(out.reset, JSON.stringify(out));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(origin.seen.length, before);
    });
  });
}
