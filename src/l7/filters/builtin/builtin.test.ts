// The built-in filters one by one over both head representations (flat lists and header lines), their
// settings from a listener's config keys, and the compiled set: run order, merged removals, and nothing
// built (nothing paid) for a key that asks for nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../config/index.ts';
import { FlatWriter, LineWriter } from '../writers.ts';
import { fakeContext } from '../../../../test/support/filter-kit.ts';
import type { ResponseView } from '../types.ts';
import { buildBuiltins, builtinFilterFactories, builtinFilterNames, builtinSettings, usableRequestId } from './index.ts';
import { createForwarded } from './forwarded.ts';
import { createRequestId } from './request-id.ts';
import { createTraceContext } from './trace-context.ts';
import { createHideHeaders } from './hide-headers.ts';
import { createHsts } from './hsts.ts';
import { createServerTiming } from './server-timing.ts';

const view: ResponseView = { status: 200, backend: '10.0.0.1:80', header: () => undefined, fields: () => [] };

function listener(extra: string) {
  const { config } = parseConfigText(`listeners:\n  - name: edge\n    listen: 127.0.0.1:0\n    routes: [ { respond: { status: 204 } } ]\n${extra}`, 'edge.yaml', process.cwd());
  return config.listeners[0];
}

describe('built-in filters', () => {
  it('the registry has a factory under every name, in run order', () => {
    assert.deepEqual(Object.keys(builtinFilterFactories), [...builtinFilterNames]);
    for (const name of builtinFilterNames) assert.equal(builtinFilterFactories[name].name, name);
  });

  describe('forwarded', () => {
    const all = createForwarded({ headers: ['x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'] })!;

    it('writes every configured field and declares them removed from the client head', () => {
      const fields: string[] = [];
      all.onUpstreamRequest!(fakeContext({ host: 'edge.test', scheme: 'https', clientAddress: '192.0.2.7', headers: { 'x-forwarded-for': '6.6.6.6' } }), new FlatWriter(fields));
      assert.deepEqual(fields, ['x-forwarded-for', '192.0.2.7', 'x-real-ip', '192.0.2.7', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'edge.test', 'x-forwarded-port', '443', 'forwarded', 'for=192.0.2.7;proto=https;host="edge.test"']);
      assert.deepEqual(all.upstreamRemoves, ['x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded']);
    });

    it("a trusted peer's chain is extended and its proto and host believed", () => {
      const writer = new LineWriter('');
      const ctx = fakeContext({ clientAddress: '203.0.113.9', headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.test' }, edge: { peerAddress: '10.0.0.2', peerTrusted: true } });
      all.onUpstreamRequest!(ctx, writer);
      assert.match(writer.lines, /^x-forwarded-for: 203\.0\.113\.9, 10\.0\.0\.2\r\nx-real-ip: 203\.0\.113\.9\r\nx-forwarded-proto: https\r\nx-forwarded-host: public\.test\r\n/);
    });

    it('brackets an IPv6 client in Forwarded and leaves out X-Forwarded-Host without a host', () => {
      const fields: string[] = [];
      all.onUpstreamRequest!(fakeContext({ host: '', clientAddress: '2001:db8::1', edge: { peerAddress: '2001:db8::1' } }), new FlatWriter(fields));
      assert.equal(fields.includes('x-forwarded-host'), false);
      assert.equal(fields[fields.indexOf('forwarded') + 1], 'for="[2001:db8::1]";proto=http');
    });

    it('is not built when forwarded.headers is empty', () => {
      assert.equal(createForwarded({ headers: [] }), null);
    });
  });

  describe('request_id', () => {
    const filter = createRequestId({ name: 'x-request-id' })!;

    it("adds the id when the client sent none, keeps the client's, replaces an unusable one", () => {
      const added: string[] = [];
      filter.onUpstreamRequest!(fakeContext({ requestId: 'edge-1' }), new FlatWriter(added));
      assert.deepEqual(added, ['x-request-id', 'edge-1']);
      const kept = ['x-request-id', 'client-7'];
      filter.onUpstreamRequest!(fakeContext({ requestId: 'client-7', headers: { 'x-request-id': 'client-7' } }), new FlatWriter(kept));
      assert.deepEqual(kept, ['x-request-id', 'client-7']);
      const long = 'x'.repeat(201);
      const replaced = ['x-request-id', long];
      filter.onUpstreamRequest!(fakeContext({ requestId: 'edge-2', headers: { 'x-request-id': long } }), new FlatWriter(replaced));
      assert.deepEqual(replaced, ['x-request-id', 'edge-2']);
    });

    it('usableRequestId: 1–200 bytes', () => {
      assert.equal(usableRequestId(undefined), undefined);
      assert.equal(usableRequestId(''), undefined);
      assert.equal(usableRequestId('a'.repeat(200)), 'a'.repeat(200));
      assert.equal(usableRequestId('a'.repeat(201)), undefined);
    });

    it('is not built when request ids are off', () => {
      assert.equal(createRequestId({ name: '' }), null);
    });
  });

  describe('trace_context', () => {
    const filter = createTraceContext();

    it("sends the edge's span as traceparent and drops a tracestate whose trace did not continue", () => {
      const writer = new LineWriter('tracestate: k=v\r\n');
      filter.onUpstreamRequest!(fakeContext({ headers: { tracestate: 'k=v' } }), writer);
      assert.equal(writer.lines, 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n');
      assert.deepEqual(writer.dropped, ['tracestate']);
      assert.deepEqual(filter.upstreamRemoves, ['traceparent']);
    });

    it('keeps the tracestate of a continued trace', () => {
      const fields = ['tracestate', 'k=v'];
      filter.onUpstreamRequest!(fakeContext({ headers: { tracestate: 'k=v' }, edge: { traceContinued: true, traceFlags: '00' } }), new FlatWriter(fields));
      assert.deepEqual(fields, ['tracestate', 'k=v', 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00']);
    });
  });

  describe('hide_headers and hsts', () => {
    it('declare their removals and have no hook', () => {
      const hide = createHideHeaders({ names: ['server', 'x-powered-by'] })!;
      assert.deepEqual(hide.responseRemoves, ['server', 'x-powered-by']);
      assert.equal(hide.onResponse, undefined);
      const hsts = createHsts({ value: 'max-age=60' })!;
      assert.deepEqual(hsts.responseRemoves, ['strict-transport-security']);
      assert.equal(createHideHeaders({ names: [] }), null);
      assert.equal(createHsts({ value: undefined }), null);
    });
  });

  describe('server_timing', () => {
    const filter = createServerTiming({ traceable: true })!;

    it("adds the edge's Server-Timing and traceresponse to a traced request only", () => {
      const untraced: string[] = ['server-timing', 'app;dur=3'];
      filter.onResponse!(fakeContext(), new FlatWriter(untraced), view);
      assert.deepEqual(untraced, ['server-timing', 'app;dur=3']);
      const traced: string[] = ['server-timing', 'app;dur=3'];
      filter.onResponse!(fakeContext({ edge: { debugTrace: true } }), new FlatWriter(traced), view);
      assert.deepEqual(traced, ['server-timing', 'app;dur=3', 'server-timing', 'edge_route;desc="route";dur=0.1;start=0', 'traceresponse', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']);
    });

    it('is not built without a trace token', () => {
      assert.equal(createServerTiming({ traceable: false }), null);
    });
  });

  describe('settings from the listener config and the compiled set', () => {
    it('defaults: forwarded, request_id, trace_context, hide_headers; no HSTS on http, no Server-Timing without a token', () => {
      const builtins = buildBuiltins(builtinSettings(listener('    protocol: http\n'), false));
      assert.deepEqual(builtins.names, ['forwarded', 'request_id', 'trace_context', 'hide_headers']);
      assert.deepEqual(builtins.upstreamRemoves, ['x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-forwarded-host', 'traceparent']);
      assert.deepEqual(builtins.responseRemoves, ['server', 'x-powered-by']);
      assert.equal(builtins.editsUpstream, true);
      assert.equal(builtins.editsResponse, false, 'no per-response work for a route that asked for none');
    });

    it('keys that ask for nothing build nothing', () => {
      const builtins = buildBuiltins(builtinSettings(listener('    protocol: http\n    forwarded: { headers: [], request_id: false }\n    response_headers: { hide: [] }\n'), false));
      assert.deepEqual(builtins.names, ['trace_context']);
      assert.deepEqual(builtins.responseRemoves, []);
    });

    it('https with tls.hsts and a trace token: hsts and server_timing join, in order', () => {
      const builtins = buildBuiltins(builtinSettings(listener('    protocol: https\n    tls: { self_signed: true, hsts: true }\n'), true));
      assert.deepEqual(builtins.names, ['forwarded', 'request_id', 'trace_context', 'hide_headers', 'hsts', 'server_timing']);
      assert.deepEqual(builtins.responseRemoves, ['server', 'x-powered-by', 'strict-transport-security']);
      assert.equal(builtins.editsResponse, true);
      assert.equal(builtins.editsResponseFor(fakeContext().edge), false, 'an untraced response pays nothing for server_timing');
      assert.equal(builtins.editsResponseFor(fakeContext({ edge: { debugTrace: true } }).edge), true);
    });

    it('runs the upstream hooks in order on one writer', () => {
      const builtins = buildBuiltins(builtinSettings(listener('    protocol: http\n    forwarded: { headers: [x-forwarded-for] }\n'), false));
      const fields: string[] = [];
      builtins.onUpstreamRequest(fakeContext({ requestId: 'edge-1' }), new FlatWriter(fields));
      assert.deepEqual(fields, ['x-forwarded-for', '192.0.2.7', 'x-request-id', 'edge-1', 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']);
    });
  });
});
