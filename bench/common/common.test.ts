// Unit tests of the pure parts of the benchmark helpers (run: node_modules/.bin/node --test bench/common/common.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWrk, parseWrkTime } from './wrk.ts';
import { median, ratio } from './stats.ts';
import { markdownTable } from './table.ts';
import { parseOptions } from './args.ts';
import { summarizeProfile, type CpuProfile } from './cpuprofile.ts';

const wrkOutput = `Running 8s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   805.33us  200.12us   5.00ms   90.00%
    Req/Sec    61.80k     2.00k   65.00k    80.00%
  Latency Distribution
     50%  780.00us
     75%  850.00us
     90%    0.95ms
     99%    1.50ms
  491000 requests in 8.00s, 50.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:  61375.00
Transfer/sec:      5.00MB
`;

test('parseWrk reads totals, percentiles and errors', () => {
  const result = parseWrk(wrkOutput);
  assert.equal(result.requests, 491000);
  assert.equal(result.seconds, 8);
  assert.equal(result.requestsPerSecond, 61375);
  assert.deepEqual(result.latencyMs, { p50: 0.78, p75: 0.85, p90: 0.95, p99: 1.5 });
  assert.equal(result.socketErrors, 3);
  assert.equal(result.badResponses, 12);
});

test('parseWrk refuses output without totals', () => {
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused'), /no totals/);
});

test('parseWrkTime converts every unit to ms', () => {
  assert.equal(parseWrkTime('500.00us'), 0.5);
  assert.equal(parseWrkTime('2.00s'), 2000);
  assert.equal(parseWrkTime('1.00m'), 60_000);
});

test('median and ratio ignore missing values', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([Number.NaN, 5]), 5);
  assert.ok(Number.isNaN(median([])));
  assert.ok(Number.isNaN(ratio(1, 0)));
  assert.equal(ratio(1, 4), 0.25);
});

test('markdownTable aligns columns', () => {
  const table = markdownTable([{ title: 'name' }, { title: 'n', align: 'right' }], [['a', '1'], ['bb', '22']]);
  assert.equal(table, ['| name |   n |', '|------|----:|', '| a    |   1 |', '| bb   |  22 |'].join('\n'));
});

test('parseOptions reads numbers, strings and flags and refuses unknown options', () => {
  const spec = { rounds: { default: 3, help: '' }, only: { default: '', help: '' }, skip_equal_cpu: { default: false, help: '' } };
  assert.deepEqual(parseOptions(['--rounds', '5', '--skip-equal-cpu', '--only', 'nginx'], spec), { rounds: 5, only: 'nginx', skip_equal_cpu: true });
  assert.throws(() => parseOptions(['--nope'], spec), /unknown option/);
  assert.throws(() => parseOptions(['--rounds', 'x'], spec), /expected a number/);
});

test('summarizeProfile credits self and total time per function', () => {
  const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0, columnNumber: 0 });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 4] },
      { id: 2, callFrame: frame('outer', 'file:///p/src/a.ts'), children: [3] },
      { id: 3, callFrame: frame('inner', 'file:///p/src/a.ts') },
      { id: 4, callFrame: frame('(idle)') },
    ],
    startTime: 0,
    endTime: 40,
    samples: [3, 3, 2, 4],
    timeDeltas: [0, 10, 10, 10],
  };
  const summary = summarizeProfile(profile, '/p');
  const byName = Object.fromEntries(summary.functions.map((entry) => [entry.name.split(' ')[0], entry]));
  assert.equal(byName.inner.selfUs, 20);
  assert.equal(byName.outer.selfUs, 10);
  assert.equal(byName.outer.totalUs, 30);
  assert.equal(summary.idleUs, 10);
  assert.equal(summary.files[0].file, 'src/a.ts');
});
