// Response rate limiting is on by default when DNS listens beyond loopback (here 0.0.0.0, the usual public
// configuration; the test's queries still go to 127.0.0.1) and off on loopback only; `switchyard check`
// says which. A real client (dig) sees the slipped answers as TC and, left to itself, retries over TCP.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliEntry, node24, runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { dig, parseDig, type DigResult } from './support.ts';

const run = promisify(execFile);

/** A ~1.1 KB TXT answer to a ~40-byte query: the amplification the limit is there for. */
const bigText = Array.from({ length: 4 }, (_, i) => `"${String(i).repeat(250)}"`).join(', ');

const config = (host: string, extra = ''): string => `
dns:
  listen: [udp://${host}:0, tcp://${host}:0]
  zones:
    - origin: big.test.
      soa: { mname: ns1.big.test., rname: hostmaster.big.test. }
      records:
        - { name: txt, type: TXT, value: [${bigText}] }
${extra}`;

function udpPort(running: RunningSwitchyard): number {
  const udp = running.ready.dns?.find((address) => address.transport === 'udp');
  assert.ok(udp, `dns addresses in the ready line: ${JSON.stringify(running.ready)}`);
  return udp.port;
}

/**
 * One dig process asking `count` queries back to back (batch mode, UDP, TC not followed): the responses in
 * order; a query that got nothing (dropped by the limit) comes back as undefined.
 */
async function digBatch(port: number, dir: string, count: number): Promise<(DigResult | undefined)[]> {
  const batch = path.join(dir, 'batch.txt');
  await writeFile(batch, 'txt.big.test TXT\n'.repeat(count));
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+ignore', '+tries=1', '+time=1', '-f', batch], { timeout: 60_000 }).catch((err) => err);
  const blocks = String(stdout).split(/^; <<>> DiG/m).slice(1);
  assert.equal(blocks.length, count, 'one block of dig output per query');
  return blocks.map((block) => (block.includes('->>HEADER<<-') ? parseDig(block) : undefined));
}

async function check(configFile: string): Promise<string> {
  const { stdout } = await run(node24, [cliEntry, 'check', configFile], { timeout: 30_000 });
  return stdout;
}

describe('dns response rate limiting by default beyond loopback', () => {
  let running: RunningSwitchyard;
  before(async () => {
    running = await runSwitchyard(config('0.0.0.0'));
  });
  after(() => running?.stop());

  it('is reported on by switchyard check', async () => {
    assert.match(await check(running.configFile), /dns: response rate limiting on: 20 responses\/s per \/24 \(IPv6 \/56\), slip 2, listening beyond loopback/);
  });

  it('answers a dig loop in full up to the rate, then slips truncated empty answers (TC)', async (t) => {
    const started = performance.now();
    // 80 queries: with slip 2 the first limited answer is dropped and the second is a TC, about 21 queries
    // later (dig waits its second on the drop and the bucket refills meanwhile); 80 leave room for one query
    // whose answer a loaded machine delays past dig's second, which looks like a drop and also refills.
    const results = await digBatch(udpPort(running), running.dir, 80);
    const seconds = (performance.now() - started) / 1000;
    const full = results.filter((result) => result && !result.flags.includes('tc') && result.answer.length === 1);
    const slipped = results.filter((result) => result?.flags.includes('tc'));
    const dropped = results.filter((result) => result === undefined);
    const shape = results.map((result) => (result === undefined ? '-' : result.flags.includes('tc') ? 'T' : full.includes(result) ? 'F' : '?')).join('');
    t.diagnostic(`80 queries in ${seconds.toFixed(1)} s: ${full.length} answered, ${slipped.length} slipped (TC), ${dropped.length} dropped; in order (F full, T truncated, - none): ${shape}`);
    assert.ok(results[0] && full.includes(results[0]), 'the first query is answered in full');
    assert.ok(slipped.length >= 1, `some answers are slipped: ${shape}`);
    // the burst (20) is answered in full: at most one answer in it missing (a delay, not the limit)
    assert.ok(results.slice(0, 20).filter((result) => full.includes(result)).length >= 19, `the first 20 answers are full ones: ${shape}`);
    assert.ok(shape.indexOf('T') >= 20, `the first truncated answer comes after the burst: ${shape}`);
    for (const result of slipped) assert.equal(result!.answer.length, 0, 'a slipped answer carries no records');
    // 20/s with a burst of 20 (dig waits a second on each dropped query, and the bucket refills meanwhile)
    assert.ok(full.length <= 21 + 20 * seconds, `${full.length} of 80 answered in full in ${seconds.toFixed(1)} s`);
  });

  it('does not limit TCP: dig +tcp right after the limited loop gets the whole answer', async () => {
    const result = await dig({ host: '127.0.0.1', port: udpPort(running) }, ['+tcp', 'txt.big.test', 'TXT']);
    assert.equal(result.status, 'NOERROR');
    assert.equal(result.answer.length, 1);
  });
});

/**
 * Runs switchyard on `yaml` for one test: its check output and a batch of `count` dig queries, then
 * `afterwards` against the same server.
 */
async function checkAndDig(yaml: string, count: number, afterwards?: (target: { host: string; port: number }) => Promise<void>): Promise<{ summary: string; results: (DigResult | undefined)[] }> {
  const running = await runSwitchyard(yaml);
  try {
    const summary = await check(running.configFile);
    const results = await digBatch(udpPort(running), running.dir, count);
    await afterwards?.({ host: '127.0.0.1', port: udpPort(running) });
    return { summary, results };
  } finally {
    await running.stop();
  }
}

const answeredInFull = (results: (DigResult | undefined)[]): number => results.filter((result) => result && !result.flags.includes('tc') && result.answer.length === 1).length;

describe('dns response rate limiting off on loopback, and an explicit setting wins', () => {
  it('is off on loopback only unless configured, and switchyard check says so', async () => {
    const { summary, results } = await checkAndDig(config('127.0.0.1'), 50);
    assert.match(summary, /dns: response rate limiting off \(loopback only/);
    assert.equal(answeredInFull(results), 50);
  });

  it('rate_limit: false turns it off beyond loopback (and check warns)', async () => {
    const { summary, results } = await checkAndDig(config('0.0.0.0', '  rate_limit: false'), 50);
    assert.match(summary, /dns: response rate limiting OFF \(rate_limit: false\) although listening beyond loopback/);
    assert.equal(answeredInFull(results), 50);
  });

  it('rate_limit set on loopback turns it on; a real client follows the slipped TC to TCP', async () => {
    let retried: DigResult | undefined;
    // 1 response/s and slip 1: after the first answer every answer of the loop is a TC, none is dropped
    const { summary, results } = await checkAndDig(config('127.0.0.1', '  rate_limit: { responses_per_second: 1, slip: 1 }'), 10, async (target) => {
      retried = await dig(target, ['txt.big.test', 'TXT']); // plain dig: UDP first, TCP on TC
    });
    assert.match(summary, /dns: response rate limiting on: 1 responses\/s/);
    assert.ok(results.filter((result) => result?.flags.includes('tc')).length >= 8, 'slip 1: every limited answer is a TC');
    assert.match(retried!.raw, /Truncated, retrying in TCP mode/);
    assert.equal(retried!.answer.length, 1, 'the answer arrives over TCP');
  });
});
