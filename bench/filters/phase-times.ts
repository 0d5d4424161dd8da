// What recording each filter's phase times costs (the dashboard's waterfall, FilterContext.filterTimes): a
// route's chain of two built-in filters (headers, cors) runs its request, upstream-head and response hooks
// in a loop, once without a times array and once with one (two clock reads per filter and hook); the
// table gives nanoseconds per request for each and the difference. In-process, no sockets: the figure is
// the chain's own cost, which the proxy paths add to every request of a route with middleware.
// Run: taskset -c 1 node_modules/.bin/node bench/filters/phase-times.ts [requests per round, default 2000000] [rounds, default 5]
import os from 'node:os';
import { FlatWriter, FILTER_TIMES, builtinFilterHost, type FilterContext, type HttpFilter, type ResponseView } from '../../src/l7/index.ts';
import { buildChain } from '../../src/l7/filters/chain.ts';
import { middlewareSchema } from '../../src/config/index.ts';

const requests = Number(process.argv[2] ?? 2_000_000);
const rounds = Number(process.argv[3] ?? 5);
const host = builtinFilterHost();
const middleware = middlewareSchema.parse([{ headers: { request: { set: { 'x-edge': 'yes' } }, response: { set: { 'x-filtered': 'yes' } } } }, { cors: { origins: ['https://app.example.test'] } }]);
const chain = buildChain(host.registry, host.env(process.cwd(), os.tmpdir()), undefined, middleware)!;

class Context implements FilterContext {
  readonly method = 'GET';
  readonly path = '/api/orders';
  readonly query = '';
  readonly host = 'app.example.test';
  readonly scheme = 'https' as const;
  readonly clientAddress = '192.0.2.7';
  readonly requestId = 'r-1';
  readonly routeName = 'api';
  filterTimes: Float64Array | null = null;
  header(name: string): string | undefined {
    return name === 'origin' ? 'https://app.example.test' : undefined;
  }
  cookie(): string | undefined {
    return undefined;
  }
  stash(_filter: HttpFilter, _value: unknown): void {}
  stashed(): unknown {
    return undefined;
  }
  preferBackend(): void {}
  setReason(): void {}
  bodyPrefix(): Buffer {
    return Buffer.alloc(0);
  }
}

const response: ResponseView = { status: 200, header: () => undefined, fields: () => [], backend: '127.0.0.1:8080' };

/** ns per request: the three hooks of the chain on `ctx` (the head fields reset each time, as a new request's). */
function round(ctx: Context): number {
  const up: string[] = [];
  const down: string[] = [];
  const started = process.hrtime.bigint();
  for (let i = 0; i < requests; i++) {
    up.length = 0;
    down.length = 0;
    if (ctx.filterTimes !== null) ctx.filterTimes.fill(0);
    chain.onRequest(ctx);
    chain.onUpstreamRequest(ctx, new FlatWriter(up));
    chain.onResponse(ctx, new FlatWriter(down), response);
  }
  return Number(process.hrtime.bigint() - started) / requests;
}

const off = new Context();
const on = new Context();
on.filterTimes = new Float64Array(chain.names.length * FILTER_TIMES);
const offs: number[] = [];
const ons: number[] = [];
round(off);
round(on);
for (let r = 0; r < rounds; r++) {
  offs.push(round(off));
  ons.push(round(on));
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`${new Date().toISOString()} · ${cpu} · Node ${process.version} · ${requests} requests × ${rounds} rounds (median)\n`);
console.log('| chain (headers, cors) | ns/request | rounds |');
console.log('|---|---|---|');
console.log(`| without phase times | ${median(offs).toFixed(0)} | ${offs.map((v) => v.toFixed(0)).join(' / ')} |`);
console.log(`| with phase times | ${median(ons).toFixed(0)} | ${ons.map((v) => v.toFixed(0)).join(' / ')} |`);
console.log(`| difference | ${(median(ons) - median(offs)).toFixed(0)} | |`);
