// The timeout path: an origin whose link is cut (packets dropped, not refused) is taken out by timeouts
// within fall × interval + timeout, and comes back after rise passes when the link returns. Runs in two
// network namespaces joined by a veth pair; skipped where namespaces cannot be created (not root).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import path from 'node:path';

const run = promisify(execFile);
const node = process.execPath;
const child = path.join(import.meta.dirname, 'netns-checker-child.ts');
const tag = `${process.pid % 100_000}`;
const nsChecker = `sychk${tag}`;
const nsOrigin = `syorg${tag}`;
const checkerIp = '10.98.0.1';
const originIp = '10.98.0.2';

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}

async function canUseNetns(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await ip('netns', 'add', nsChecker);
    return true;
  } catch {
    return false;
  }
}

const processes: ChildProcess[] = [];
let usable = false;

before(async () => {
  usable = await canUseNetns();
  if (!usable) return;
  await ip('netns', 'add', nsOrigin);
  await ip('link', 'add', `syv${tag}c`, 'netns', nsChecker, 'type', 'veth', 'peer', 'name', `syv${tag}o`, 'netns', nsOrigin);
  await ip('-n', nsChecker, 'addr', 'add', `${checkerIp}/24`, 'dev', `syv${tag}c`);
  await ip('-n', nsOrigin, 'addr', 'add', `${originIp}/24`, 'dev', `syv${tag}o`);
  for (const [ns, dev] of [[nsChecker, `syv${tag}c`], [nsOrigin, `syv${tag}o`]]) {
    await ip('-n', ns, 'link', 'set', dev, 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  // a permanent neighbour entry: with the link cut, packets leave and vanish (no ARP failure to report)
  const [link] = JSON.parse(await ip('-n', nsOrigin, '-j', 'link', 'show', `syv${tag}o`)) as { address: string }[];
  await ip('-n', nsChecker, 'neigh', 'replace', originIp, 'lladdr', link.address, 'dev', `syv${tag}c`, 'nud', 'permanent');
});

after(async () => {
  for (const proc of processes) proc.kill('SIGKILL');
  for (const ns of [nsChecker, nsOrigin]) await ip('netns', 'del', ns).catch(() => {});
});

type Line = { event: string; ok?: boolean; healthy?: boolean; reason: string; at: number };

/** Starts `args` inside `ns`; returns a function waiting (bounded) for the next stdout JSON line matching. */
function start(ns: string, args: string[]) {
  const proc = spawn('ip', ['netns', 'exec', ns, node, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  processes.push(proc);
  const lines: Line[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    lines.push(JSON.parse(text) as Line);
    for (const waiter of waiters.splice(0)) waiter();
  });
  let read = 0;
  const next = (match: (line: Line) => boolean, ms: number) =>
    new Promise<Line>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching line within ${ms} ms; got ${JSON.stringify(lines.slice(read))}`)), ms);
      const look = () => {
        while (read < lines.length) {
          const line = lines[read++];
          if (match(line)) {
            clearTimeout(timer);
            return resolve(line);
          }
        }
        if (proc.exitCode !== null) return reject(new Error(`process exited ${proc.exitCode}`));
        waiters.push(look);
      };
      look();
    });
  return { next };
}

describe('link cut (network namespaces)', () => {
  it('times out, goes down within fall × interval + timeout, and recovers after rise', async (t) => {
    if (!usable) return t.skip('network namespaces unavailable (needs root and ip netns)');
    const origin = start(nsOrigin, [
      '-e',
      `require('node:http').createServer((q, s) => s.end('ok')).listen(8080, '${originIp}', () => console.log(JSON.stringify({ event: 'ready', reason: '', at: Date.now() })))`,
    ]);
    await origin.next((line) => line.event === 'ready', 10_000);
    const health = { type: 'http', path: '/healthz', interval: '300ms', timeout: '200ms', rise: 2, fall: 3 };
    const checker = start(nsChecker, [child, JSON.stringify({ health, target: { host: originIp, port: 8080 } })]);
    await checker.next((line) => line.event === 'check' && line.ok === true, 10_000);
    await checker.next((line) => line.event === 'check' && line.ok === true, 10_000);

    const cutAt = Date.now();
    await ip('-n', nsOrigin, 'link', 'set', `syv${tag}o`, 'down');
    const down = await checker.next((line) => line.event === 'transition', 10_000);
    assert.equal(down.healthy, false);
    assert.equal(down.reason, 'timeout');
    const detection = down.at - cutAt;
    // fall checks, each at most interval × 1.1 apart, the last one waiting out its timeout (+ scheduling slack)
    assert.ok(detection <= 3 * 330 + 200 + 300, `detected in ${detection} ms`);
    t.diagnostic(`link cut detected in ${detection} ms (fall 3 × interval 300ms + timeout 200ms = 1100ms)`);

    const restoredAt = Date.now();
    await ip('-n', nsOrigin, 'link', 'set', `syv${tag}o`, 'up');
    const up = await checker.next((line) => line.event === 'transition', 10_000);
    assert.equal(up.healthy, true);
    assert.equal(up.reason, 'status 200');
    t.diagnostic(`back up ${up.at - restoredAt} ms after the link returned (rise 2)`);
  });
});
