// Resident memory added by each import of a Switchyard worker, in load order (RSS after a GC).
// Run it on the .ts sources, and on tsc-emitted JavaScript to see what type stripping costs:
//   node_modules/.bin/node --expose-gc bench/http1/memory-probe.ts
//   npx tsc --noEmit false --outDir /tmp/sy-js && ln -s "$PWD/node_modules" /tmp/sy-js/ && \
//     node_modules/.bin/node --expose-gc /tmp/sy-js/bench/http1/memory-probe.js
const steps: [string, () => Promise<unknown>][] = [
  ['node alone', async () => undefined],
  ['+ pino', () => import('pino')],
  ['+ yaml', () => import('yaml')],
  ['+ zod', () => import('zod')],
  ['+ src/config (schemas)', () => import('../../src/config/index.ts')],
  ['+ prom-client', () => import('prom-client')],
  ['+ src/pool', () => import('../../src/pool/index.ts')],
  ['+ src/l7', () => import('../../src/l7/index.ts')],
  ['+ src/supervisor', () => import('../../src/supervisor/index.ts')],
];
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1).padStart(6);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) process.stderr.write('run with --expose-gc for stable figures\n');
for (const [name, load] of steps) {
  await load();
  gc?.();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const usage = process.memoryUsage();
  process.stdout.write(`${name.padEnd(26)} rss ${mb(usage.rss)} MB  heapUsed ${mb(usage.heapUsed)} MB  external ${mb(usage.external)} MB\n`);
}
