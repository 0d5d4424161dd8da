// The `headers` filter over both head representations: set replaces (the client's fields and the edge's
// own lines alike), add appends, remove drops every field of the name, placeholders fill per request.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headersFilterSchema } from '../../config/index.ts';
import { headersFilter } from './headers.ts';
import { FlatWriter, LineWriter, withoutField } from './writers.ts';
import { compileTemplate, renderTemplate } from './template.ts';
import { fakeContext } from '../../../test/support/filter-kit.ts';

const context = fakeContext({ method: 'POST', path: '/api/users', host: 'edge.test:8080', scheme: 'https' });

const build = (settings: unknown) => headersFilter.create(headersFilterSchema.parse(settings));

describe('headers filter', () => {
  it('has no hook for a side without edits', () => {
    const filter = build({ request: { set: { 'x-a': '1' } } });
    assert.ok(filter.onUpstreamRequest);
    assert.equal(filter.onResponse, undefined);
    assert.equal(filter.onRequest, undefined);
    assert.equal(build({}).onUpstreamRequest, undefined);
  });

  it('on a flat list: remove, then set, then add', () => {
    const filter = build({ request: { remove: ['x-drop'], set: { 'X-Client': '{client_ip}' }, add: { 'x-multi': 'b' } } });
    const fields = ['x-drop', '1', 'x-client', 'forged', 'x-multi', 'a', 'x-keep', 'k', 'x-drop', '2'];
    filter.onUpstreamRequest!(context, new FlatWriter(fields));
    assert.deepEqual(fields, ['x-multi', 'a', 'x-keep', 'k', 'x-client', '192.0.2.7', 'x-multi', 'b']);
  });

  it('on header lines: edge lines are struck now, client lines are listed for the copy to drop', () => {
    const filter = build({ request: { remove: ['x-real-ip'], set: { 'x-forwarded-proto': 'edge' }, add: { 'x-id': '{request_id}' } } });
    const writer = new LineWriter('traceparent: 00-a-b-01\r\nx-real-ip: 192.0.2.7\r\nx-forwarded-proto: http\r\n');
    filter.onUpstreamRequest!(context, writer);
    assert.equal(writer.lines, 'traceparent: 00-a-b-01\r\nx-forwarded-proto: edge\r\nx-id: rid-1\r\n');
    assert.deepEqual(writer.dropped, ['x-real-ip', 'x-forwarded-proto']);
  });

  it('fills every placeholder', () => {
    const filter = build({ response: { set: { 'x-info': '{method} {scheme}://{host}{path} from {client_ip} as {request_id}' } } });
    const fields: string[] = [];
    filter.onResponse!(context, new FlatWriter(fields), { status: 200, backend: '', header: () => undefined, fields: () => [] });
    assert.deepEqual(fields, ['x-info', 'POST https://edge.test:8080/api/users from 192.0.2.7 as rid-1']);
  });
});

describe('templates', () => {
  it('a value without placeholders is the constant itself', () => {
    assert.equal(compileTemplate('switchyard {not one'), 'switchyard {not one');
    assert.equal(renderTemplate(compileTemplate('plain'), context), 'plain');
  });

  it('never lets CR or LF through from what a placeholder read', () => {
    assert.equal(renderTemplate(compileTemplate('[{host}]'), { ...context, host: 'a\r\nx-evil: 1' }), '[ax-evil: 1]');
  });
});

it('withoutField strikes whole names only, and returns the same string when the name is absent', () => {
  assert.equal(withoutField('x-a: 1\r\nx-ab: 2\r\nx-a: 3\r\nx-b: x-a\r\n', 'x-a'), 'x-ab: 2\r\nx-b: x-a\r\n');
  const lines = 'x-b: 1\r\n';
  assert.equal(withoutField(lines, 'x-a'), lines);
});
