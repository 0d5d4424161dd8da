// Resolver cache memory: fills an AnswerCache with N entries (a name of ~30 characters with 1 or 2 A
// records, or a negative answer with an SOA, in the mix of a busy forwarder), then compares the heap the
// cache really takes (heapUsed + arrayBuffers growth after full GCs) with its own byte accounting
// (`bytes`, what max_size bounds). The estimate must not be below the real figure.
//
//   node_modules/.bin/node --expose-gc bench/dns/cache-memory.ts [--entries 1000000] [--max-size 200mb] [--json]
import { parseArgs } from 'node:util';
import { FakeClock, parseSize } from '../../src/core/index.ts';
import { RRClass, RRType } from '../../src/dns/wire/constants.ts';
import { keyOf, nameToWire } from '../../src/dns/wire/name.ts';
import { AnswerCache, ENTRY_OVERHEAD } from '../../src/dns/resolver/cache.ts';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '1000000' }, 'max-size': { type: 'string', default: '200mb' }, json: { type: 'boolean' } } });
const entries = Number(values.entries);
const maxSize = parseSize(values['max-size'])!;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('cache-memory: run with --expose-gc');

function heapBytes(): number {
  gc!();
  gc!();
  const memory = process.memoryUsage();
  return memory.heapUsed + memory.arrayBuffers;
}

/** 6 in 10 entries one A record, 3 two, 1 a negative answer (NXDOMAIN with the zone's SOA). */
function fillCache(cache: AnswerCache, count: number): void {
  const soaRdata = Buffer.concat([nameToWire('ns1.example0.test.'), nameToWire('hostmaster.example0.test.'), Buffer.alloc(16), Buffer.from([0, 0, 1, 44])]);
  for (let i = 0; i < count; i++) {
    const name = `host-${i}.example${i % 1000}.test.`;
    const owner = nameToWire(name);
    const a = (last: number) => ({ owner, type: RRType.A, class: RRClass.IN, ttl: 300, rdata: Buffer.from([192, 0, (i >> 8) & 255, last]) });
    const kind = i % 10;
    if (kind === 9) cache.set(keyOf(owner), RRType.A, 3, [], [{ owner: nameToWire(`example${i % 1000}.test.`), type: RRType.SOA, class: RRClass.IN, ttl: 3600, rdata: soaRdata }]);
    else cache.set(keyOf(owner), RRType.A, 0, kind < 6 ? [a(i & 255)] : [a(i & 255), a((i + 1) & 255)], []);
  }
}

const before = heapBytes();
const started = performance.now();
const cache = new AnswerCache({ max_entries: entries, max_size: maxSize, min_ttl: 0, max_ttl: 86_400 }, new FakeClock());
fillCache(cache, entries);
const seconds = (performance.now() - started) / 1000;
const real = heapBytes() - before;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
if (values.json) process.stdout.write(`${JSON.stringify({ inserted: entries, held: cache.size, maxSize, accounted: cache.bytes, real, seconds })}\n`);
else process.stdout.write(
  [
    `entries held       ${cache.size} of ${entries} inserted (max_size ${mb(maxSize)}), in ${seconds.toFixed(1)} s`,
    `accounted bytes    ${mb(cache.bytes)} (${(cache.bytes / cache.size).toFixed(0)} B/entry, overhead constant ${ENTRY_OVERHEAD} B)`,
    `real heap growth   ${mb(real)} (${(real / cache.size).toFixed(0)} B/entry)`,
    `estimate / real    ${(cache.bytes / real).toFixed(2)}`,
    '',
  ].join('\n'),
);
