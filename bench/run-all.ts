// `npm run bench`: every benchmark in turn (HTTP/1.1 vs nginx, HTTP/2 over TLS vs nginx, HTTP/3 vs HTTP/2, DNS vs Knot, forward proxy vs squid),
// each writing its table to bench/RESULTS*.md. Benchmarks want the machine to themselves: run nothing else.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const benches: [string, string[]][] = [
  ['bench/http1/run.ts', ['--results', 'bench/RESULTS.md']],
  ['bench/h2.ts', ['--results', 'bench/RESULTS-h2.md']],
  ['bench/h3/run.ts', ['--results', 'bench/RESULTS-h3.md']],
  ['bench/dns/run.ts', []],
  ['bench/forward/run.ts', ['--results', 'bench/RESULTS-forward.md']],
];
const root = path.resolve(import.meta.dirname, '..');
let failed = 0;
for (const [script, args] of benches) {
  console.log(`\n== ${script} ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
