// Micro-benchmark: CPU per access-log line, one line per event-loop turn as under proxy load.
// "pino" is the access logger as src/core/log.ts builds it (pino + sonic-boom, minLength 4 KB);
// "sonic-boom" is the same template line handed to pino's destination stream (what src/l7/access-log.ts
// does since it stopped using pino's serializer); "buffer" is the alternative suggested in docs/bench.md:
// the template line appended to a 64 KB buffer flushed with one fs.write (double-buffered, never
// blocking). The "empty" turn cost is subtracted.
//
// usage: node_modules/.bin/node bench/http1/access-log-cost.ts [--lines 100000]
import { randomUUID } from 'node:crypto';
import { open, rm, write } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createLogger } from '../../src/core/index.ts';
import { parseOptions } from '../common/index.ts';

const options = parseOptions(process.argv.slice(2), { lines: { default: 100_000, help: 'lines per variant' } });
type Emit = (i: number) => void;

async function perLine(emit: Emit, lines: number): Promise<number> {
  const before = process.cpuUsage();
  let i = 0;
  await new Promise<void>((resolve) => {
    const step = (): void => {
      emit(i++);
      if (i < lines) setImmediate(step);
      else resolve();
    };
    step();
  });
  const used = process.cpuUsage(before);
  return (used.user + used.system) / lines;
}

function pinoEmitter(file: string): Emit {
  const log = createLogger({ level: 'info', destination: file }).child({ log: 'access' });
  return (i) =>
    log.info({ request_id: randomUUID(), client: '127.0.0.1', method: 'GET', host: '127.0.0.1:8080', path: '/', status: 200, bytes_in: 41, bytes_out: 69, route: '#0', pool: 'origin', backend: '127.0.0.1:9000', headers_ms: 0.011, connect_ms: 0.02 + (i % 3), first_byte_ms: 0.1, total_ms: 0.2 });
}

/** The access line from a template; the seconds part of the ISO time is cached. */
function lineBuilder(): (i: number) => string {
  let second = 0;
  let secondIso = '';
  const text = (value: string): string => (/["\\\u0000-\u001f]/.test(value) ? JSON.stringify(value).slice(1, -1) : value);
  return (i) => {
    const now = Date.now();
    if (Math.floor(now / 1000) !== second) {
      second = Math.floor(now / 1000);
      secondIso = new Date(second * 1000).toISOString().slice(0, 19);
    }
    return (
      `{"time":"${secondIso}.${String(now % 1000).padStart(3, '0')}Z","request_id":"${randomUUID()}","client":"127.0.0.1","method":"GET",` +
      `"host":"${text('127.0.0.1:8080')}","path":"${text('/')}","status":200,"bytes_in":41,"bytes_out":69,"route":"#0","pool":"origin",` +
      `"backend":"127.0.0.1:9000","headers_ms":0.011,"connect_ms":${0.02 + (i % 3)},"first_byte_ms":0.1,"total_ms":0.2}\n`
    );
  };
}

function sonicBoomEmitter(file: string): Emit {
  const destination = pino.destination({ dest: file, sync: false, minLength: 4096 });
  const build = lineBuilder();
  return (i) => destination.write(build(i));
}

async function bufferEmitter(file: string): Promise<Emit> {
  const fd = await new Promise<number>((resolve, reject) => open(file, 'a', (err, opened) => (err ? reject(err) : resolve(opened))));
  let active = Buffer.allocUnsafe(64 * 1024);
  let spare = Buffer.allocUnsafe(64 * 1024);
  let used = 0;
  let writing = false;
  const flush = (): void => {
    if (writing || used === 0) return;
    writing = true;
    const out = active;
    const length = used;
    active = spare;
    spare = out;
    used = 0;
    write(fd, out, 0, length, null, () => {
      writing = false;
      if (used > 32 * 1024) flush();
    });
  };
  setInterval(flush, 200).unref();
  const build = lineBuilder();
  return (i) => {
    const line = build(i);
    if (used + line.length * 3 > active.length) flush();
    if (used + line.length * 3 > active.length) return; // both buffers busy: a real logger counts the drop
    used += active.write(line, used, 'utf8');
    if (used > 32 * 1024) flush();
  };
}

const dir = tmpdir();
const pinoFile = path.join(dir, `switchyard-bench-al-pino-${process.pid}.log`);
const bufferFile = path.join(dir, `switchyard-bench-al-buffer-${process.pid}.log`);
const sonicFile = path.join(dir, `switchyard-bench-al-sonic-${process.pid}.log`);
try {
  const empty = await perLine(() => undefined, options.lines);
  const pinoUs = await perLine(pinoEmitter(pinoFile), options.lines);
  const sonic = await perLine(sonicBoomEmitter(sonicFile), options.lines);
  const buffered = await perLine(await bufferEmitter(bufferFile), options.lines);
  process.stdout.write(
    `CPU per line, ${options.lines} lines, one per event-loop turn (empty turn ${empty.toFixed(2)} µs subtracted):\n` +
      `  pino (src/core/log.ts)         ${(pinoUs - empty).toFixed(2)} µs\n` +
      `  template + pino's sonic-boom   ${(sonic - empty).toFixed(2)} µs\n` +
      `  template + 64 KB buffer        ${(buffered - empty).toFixed(2)} µs\n`,
  );
} finally {
  for (const file of [pinoFile, sonicFile, bufferFile]) rm(file, { force: true }, () => undefined);
  setTimeout(() => process.exit(0), 300).unref();
}
