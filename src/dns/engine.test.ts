// The engine never throws, never hangs and answers bad input with FORMERR/NOTIMP/drop: fuzzed with random
// datagrams and with mutations of valid queries (fast-check, bounded runs).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseConfigText } from '../config/index.ts';
import { silentLogger } from '../core/index.ts';
import { DnsEngine, newCounters } from './engine.ts';
import { buildHandlers } from './handlers.ts';
import { queryBytes } from '../../test/support/dns-queries.ts';
import { decodeMessage } from './resolver/message.ts';
import { loadZone } from './zone/load.ts';
import { ZoneSet } from './zone/zone-set.ts';

async function engine(): Promise<DnsEngine> {
  const { config } = parseConfigText(
    `
dns:
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records:
        - { name: www, type: A, value: 192.0.2.1 }
        - { name: alias, type: CNAME, value: www }
        - { name: "*.wild", type: TXT, value: wild }
        - { name: "@", type: MX, priority: 10, value: www }
        - { name: sub, type: NS, value: ns.sub }
        - { name: ns.sub, type: A, value: 192.0.2.53 }
`,
    'inline',
    '/tmp',
  );
  const zones = new ZoneSet([await loadZone(config.dns!.zones[0], 0, '/tmp', 0)]);
  return new DnsEngine(zones, buildHandlers(config.dns!, zones, undefined, undefined, Math.random, newCounters()), 1232, silentLogger(), newCounters());
}

const seeds = ['www.example.test.', 'alias.example.test.', 'x.wild.example.test.', 'nope.example.test.', 'a.sub.example.test.', 'example.test.', 'other.test.'].flatMap((name) => [
  queryBytes(name, 1),
  queryBytes(name, 15, { edns: 4096 }),
  queryBytes(name, 255, { edns: 512 }),
]);

function checkOutcome(outcome: unknown, input: Buffer): void {
  assert.ok(!(outcome instanceof Promise), 'authoritative answers are synchronous');
  if (outcome === 'drop') return;
  assert.ok(Buffer.isBuffer(outcome));
  assert.equal(outcome.readUInt16BE(0), input.readUInt16BE(0), 'ID echoed');
  assert.ok(outcome[2] & 0x80, 'QR set');
  if (outcome.length > 12) assert.ok(decodeMessage(outcome), 'a response we can decode');
}

describe('engine on bad input', () => {
  it('answers the seed queries', async () => {
    const subject = await engine();
    for (const seed of seeds) checkOutcome(subject.answer(seed, 'udp', '127.0.0.1'), seed);
  });

  it('survives random datagrams', async () => {
    const subject = await engine();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
        const input = Buffer.from(bytes);
        const outcome = subject.answer(input, 'udp', '127.0.0.1');
        if (input.length < 12) assert.equal(outcome, 'drop');
        else checkOutcome(outcome, input);
      }),
      { numRuns: 3000 },
    );
  });

  it('survives mutated queries (flipped bytes, cut, extended, pointer loops)', async () => {
    const subject = await engine();
    const mutation = fc.record({
      seed: fc.integer({ min: 0, max: seeds.length - 1 }),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      cut: fc.option(fc.nat()),
      extra: fc.uint8Array({ maxLength: 8 }),
    });
    fc.assert(
      fc.property(mutation, ({ seed, flips, cut, extra }) => {
        let input = Buffer.from(seeds[seed]);
        for (const [at, value] of flips) input[12 + (at % (input.length - 12))] = value;
        if (cut !== null) input = input.subarray(0, cut % (input.length + 1));
        input = Buffer.concat([input, Buffer.from(extra)]);
        const outcome = subject.answer(input, 'udp', '127.0.0.1');
        if (input.length < 12) assert.equal(outcome, 'drop');
        else checkOutcome(outcome, input);
      }),
      { numRuns: 5000 },
    );
  });
});
