// The resolver against a tiny upstream (dns-packet, counts its queries) that is stopped mid-test:
// serve-stale (RFC 8767) with TTL 30 once upstreams are gone, the client-response timer answering stale
// before a slow upstream times out, stale at once after a failure, no stale answer past serve_stale, prefetch of a popular name before
// its TTL ends, and the per-client query limit.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Answer } from 'dns-packet';
import { parseConfigText } from '../../../src/config/index.ts';
import { decodeMessage } from '../../../src/dns/resolver/message.ts';
import { Rcode } from '../../../src/dns/wire/constants.ts';
import { queryBytes } from '../../support/dns-queries.ts';
import { startTinyDns, type TinyDns } from '../../support/tiny-dns.ts';
import { startDns, udpExchange, type RunningDns } from './support.ts';

const records = (ttl: number): Answer[] => [
  { type: 'SOA', name: 'up.test', ttl: 60, data: { mname: 'ns.up.test', rname: 'h.up.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60 } },
  { type: 'A', name: 'www.up.test', ttl, data: '198.51.100.7' },
  { type: 'A', name: 'hot.up.test', ttl, data: '198.51.100.8' },
];

function resolverYaml(upstream: TinyDns, cache: string, extra: string): string {
  return `
dns:
  listen: [udp://127.0.0.1:0]
  zones:
    - origin: own.test.
      soa: { mname: ns.own.test., rname: h.own.test. }
      records: [ { name: www, type: A, value: 192.0.2.1 } ]
  resolver:
    allow: [127.0.0.0/8]
    forward: [127.0.0.1:${upstream.port}]
    cache: ${cache}
${extra.includes('timeout:') ? extra : `${extra}\n    timeout: 5s`}`;
}

async function ask(target: RunningDns, name: string, id = 1): Promise<NonNullable<ReturnType<typeof decodeMessage>>> {
  const answer = decodeMessage(await udpExchange(target, queryBytes(name, 1, { id }), 8000));
  assert.ok(answer, 'a decodable answer');
  return answer;
}

const address = (answer: NonNullable<ReturnType<typeof decodeMessage>>): string | undefined => answer.answer[0]?.rdata.join('.');

describe('resolver serve-stale, prefetch and client limit', () => {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const stop of stops) await stop();
  });
  async function start(ttl: number, cache: string, extra = ''): Promise<{ upstream: TinyDns; resolver: RunningDns }> {
    const upstream = await startTinyDns({ zone: 'up.test', records: records(ttl) });
    let open = true;
    stops.push(async () => {
      if (open) await upstream.close();
    });
    const close = upstream.close;
    upstream.close = async () => {
      open = false;
      await close();
    };
    const resolver = await startDns(resolverYaml(upstream, cache, extra));
    stops.push(() => resolver.stop());
    return { upstream, resolver };
  }

  it('answers stale (TTL 30) once the upstream is gone, early by the client-response timer', async () => {
    const { upstream, resolver } = await start(1, '{ serve_stale: 1h, stale_answer_after: 300ms }');
    const fresh = await ask(resolver, 'www.up.test.');
    assert.equal(fresh.answer[0].ttl, 1);
    await upstream.close();
    await delay(1100);
    const started = performance.now();
    const stale = await ask(resolver, 'www.up.test.');
    const elapsed = performance.now() - started;
    assert.equal(stale.rcode, Rcode.NOERROR);
    assert.equal(address(stale), '198.51.100.7');
    assert.equal(stale.answer[0].ttl, 30);
    // the upstream timeout is 5 s: the stale answer came from the 300 ms timer, not the upstream failure
    assert.ok(elapsed < 2000, `stale answer after ${elapsed.toFixed(0)} ms`);
    assert.ok(resolver.server.status().counters.stale_answers >= 1);
  });

  it('does not answer stale past serve_stale', async () => {
    const { upstream, resolver } = await start(1, '{ serve_stale: 1s, stale_answer_after: 200ms }', '    timeout: 300ms');
    assert.equal(address(await ask(resolver, 'www.up.test.')), '198.51.100.7');
    await upstream.close();
    await delay(1300); // expired, within the 1 s window
    assert.equal((await ask(resolver, 'www.up.test.')).answer[0].ttl, 30);
    // the upstream query behind that answer fails after its 300 ms timeout: from then on (RFC 8767's failure
    // recheck timer) the stale answer goes out at once, without asking upstream again
    const upstreamQueries = (): number => resolver.server.status().resolver!.upstream_queries;
    await delay(200);
    const asked = upstreamQueries();
    const started = performance.now();
    assert.equal((await ask(resolver, 'www.up.test.')).answer[0].ttl, 30);
    assert.ok(performance.now() - started < 150, `stale answer after ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(upstreamQueries(), asked);
    await delay(1000); // past TTL + serve_stale
    const gone = await ask(resolver, 'www.up.test.');
    assert.equal(gone.rcode, Rcode.SERVFAIL);
    assert.equal(gone.answer.length, 0);
  });

  it('prefetches a popular name in the last tenth of its TTL, once', async () => {
    const { upstream, resolver } = await start(4, '{ prefetch_hits: 3 }');
    const first = performance.now();
    await ask(resolver, 'hot.up.test.');
    for (let i = 0; i < 5; i++) await ask(resolver, 'hot.up.test.', i + 2);
    const upstreamAsked = (): number => upstream.queries.filter((query) => query.name === 'hot.up.test').length;
    assert.equal(upstreamAsked(), 1);
    await delay(3700 - (performance.now() - first)); // < 400 ms of the 4 s TTL left
    await ask(resolver, 'hot.up.test.', 10);
    for (let i = 0; i < 50 && upstreamAsked() < 2; i++) await delay(10);
    assert.ok(performance.now() - first < 4000, 'the refresh went upstream before the TTL ended');
    assert.equal(upstreamAsked(), 2);
    await ask(resolver, 'hot.up.test.', 11);
    assert.equal(upstreamAsked(), 2, 'one refresh per entry');
    assert.equal(resolver.server.status().counters.prefetches, 1);
    // the refreshed entry answers past the first TTL without another upstream query
    await delay(4100 - (performance.now() - first));
    const after = await ask(resolver, 'hot.up.test.', 12);
    assert.equal(address(after), '198.51.100.8');
    assert.equal(upstreamAsked(), 2);
  });

  it('refuses a client over resolver.client_limit, still answering its zones', async () => {
    const { resolver } = await start(300, '{}', '    client_limit: { queries_per_second: 5 }');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(resolver, 'www.up.test.', i)));
    const refused = answers.filter((answer) => answer.rcode === Rcode.REFUSED).length;
    assert.ok(refused >= 10 && refused <= 15, `${refused} of 20 refused`);
    assert.equal(resolver.server.status().counters.client_limited, refused);
    assert.equal(address(await ask(resolver, 'www.own.test.')), '192.0.2.1');
  });

  it('refuses stale_answer_after without serve_stale (it would do nothing)', () => {
    const yaml = 'dns:\n  resolver: { allow: [127.0.0.0/8], forward: [127.0.0.1:53], cache: { stale_answer_after: 1s } }\n';
    assert.throws(() => parseConfigText(yaml, 'inline.yaml', '/tmp'), /dns\.resolver\.cache\.stale_answer_after: expected stale_answer_after only with serve_stale/);
  });

  it('drops queries over the limit with over: drop', async () => {
    const { resolver } = await start(300, '{}', '    client_limit: { queries_per_second: 2, over: drop }');
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => udpExchange(resolver, queryBytes('www.up.test.', 1, { id: i }), 1000)));
    const unanswered = outcomes.filter((outcome) => outcome.status === 'rejected').length;
    assert.ok(unanswered >= 3 && unanswered <= 4, `${unanswered} of 6 unanswered`);
    assert.equal(resolver.server.status().counters.client_limited, unanswered);
  });
});
