// Resident memory added by each import of a Switchyard worker, its primary and the primary's config loader,
// in load order (VmRSS and RssAnon after a GC). Each list runs in a fresh child process that loads nothing else, so that this
// script's own type stripping is not counted:
//   node_modules/.bin/node bench/http1/memory-probe.ts            # dist/ (npm run build), the .ts sources when missing
//   node_modules/.bin/node bench/http1/memory-probe.ts --code src # the .ts sources (type stripping included)
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const root = path.resolve(import.meta.dirname, '..', '..');
const { distStatus } = createRequire(import.meta.url)(path.join(root, 'bin', 'dist-fresh.cjs')) as { distStatus: (root: string) => { fresh: boolean } };
const codeArg = process.argv.indexOf('--code');
const code = codeArg === -1 ? (distStatus(root).fresh ? 'dist' : 'src') : process.argv[codeArg + 1];
if (code !== 'src' && code !== 'dist') throw new Error('--code expects src or dist');
const module = (file: string): string => pathToFileURL(path.join(root, code, code === 'dist' ? file.replace(/\.ts$/, '.js') : file)).href;

// What a worker imports (src/supervisor/worker-main.ts and an http listener's code), then what only the primary adds.
const worker: [string, string][] = [
  ['node alone', ''],
  ['+ pino', 'pino'],
  ['+ src/core', module('core/index.ts')],
  ['+ src/pool', module('pool/index.ts')],
  ['+ src/l7 (with src/tls)', module('l7/index.ts')],
  ['+ src/supervisor/worker-main', module('supervisor/worker-main.ts')],
];
// The primary leaves yaml, zod and the schemas to its config loader (a child process,
// src/supervisor/config-process.ts) and loads prom-client with the first /metrics scrape: both lists below.
const primary: [string, string][] = [
  ...worker.slice(0, 3),
  ['+ src/admin, src/health', module('admin/index.ts')],
  ['+ src/supervisor (control plane)', module('supervisor/index.ts')],
  ['+ prom-client (first scrape)', 'prom-client'],
];
const configLoader: [string, string][] = [
  ...worker.slice(0, 3),
  ['+ yaml', 'yaml'],
  ['+ zod', 'zod'],
  ['+ src/config (schemas)', module('config/index.ts')],
];

// Runs in the child: import each step, GC, read /proc/self/status; one JSON line per step.
const probe = `
import { readFileSync } from 'node:fs';
const kb = (text, field) => Number(new RegExp('^' + field + ':\\\\s+(\\\\d+)', 'm').exec(text)[1]) * 1024;
for (const specifier of JSON.parse(process.argv[1])) {
  if (specifier) await import(specifier);
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const status = readFileSync('/proc/self/status', 'utf8');
  process.stdout.write(JSON.stringify({ rss: kb(status, 'VmRSS'), anon: kb(status, 'RssAnon') }) + '\\n');
}
process.exit(0);
`;

const run = promisify(execFile);
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1).padStart(6);

async function measure(title: string, steps: [string, string][]): Promise<void> {
  // cwd = the project, so bare specifiers (pino, yaml) resolve from its node_modules
  const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '--eval', probe, JSON.stringify(steps.map(([, specifier]) => specifier))], { cwd: root });
  const rows = stdout.trim().split('\n').map((line) => JSON.parse(line) as { rss: number; anon: number });
  process.stdout.write(`${title} (${code}/)\n`);
  steps.forEach(([name], index) => process.stdout.write(`  ${name.padEnd(34)} rss ${mb(rows[index].rss)} MB  anon ${mb(rows[index].anon)} MB\n`));
}

await measure('worker', worker);
await measure('primary', primary);
await measure('config loader (child of the primary, exits after each load)', configLoader);
