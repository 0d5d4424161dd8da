// What a pick costs, pick log included (src/pool/pick-log.ts): one lease taken and released per
// iteration, per policy and pool size, best of five runs of a million. A micro-benchmark of the pool alone
// (no sockets); compare two checkouts by running it in each.
//
// usage: node_modules/.bin/node bench/pool-pick.ts
import { poolSchema } from '../src/config/index.ts';
import { systemClock } from '../src/core/index.ts';
import { Pool, type BalanceInput } from '../src/pool/index.ts';
import { describeMachine, machineFacts } from './common/index.ts';

const input: BalanceInput = { clientAddress: '10.0.0.1', path: '/', header: () => undefined, cookie: () => undefined };
const rows: string[] = [];
for (const balance of ['round_robin', 'least_conn', 'ip_hash'] as const) {
  for (const size of [2, 4, 16]) {
    const config = poolSchema.parse({ balance, backends: Array.from({ length: size }, (_, i) => ({ address: `127.0.0.1:${8001 + i}` })) });
    const pool = new Pool('bench', config, { clock: systemClock });
    const run = (n: number): void => {
      for (let i = 0; i < n; i++) pool.pick(input)!.release('success');
    };
    run(200_000);
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const started = performance.now();
      run(1_000_000);
      best = Math.min(best, performance.now() - started);
    }
    rows.push(`| ${balance} | ${size} | ${best.toFixed(1)} |`);
  }
}
console.log(`${new Date().toISOString().slice(0, 10)} — ${describeMachine(await machineFacts())}\n`);
console.log('| policy | backends | ns per pick + release |\n|---|---|---|');
console.log(rows.join('\n'));
