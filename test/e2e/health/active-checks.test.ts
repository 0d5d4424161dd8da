// Active health checks against real origins on loopback: the real tcp and http probes, the checker on the
// system clock (short intervals), transitions wired into a real Pool as a single process would.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { healthSchema, poolSchema, type HealthConfig } from '../../../src/config/index.ts';
import { systemClock } from '../../../src/core/index.ts';
import { HealthChecker, builtinProbes, type ProbeFactory, type ProbeResult } from '../../../src/health/index.ts';
import { Pool } from '../../../src/pool/index.ts';
import { anchorPort, listenReusingPort, type PortAnchor } from '../../support/ports.ts';

const servers = new Set<net.Server>();
const checkers = new Set<HealthChecker>();
const anchors = new Set<PortAnchor>();
after(async () => {
  for (const checker of checkers) await checker.stop();
  for (const server of servers) {
    server.close();
    (server as http.Server).closeAllConnections?.();
  }
  for (const anchor of anchors) await anchor.release();
});

async function anchored(): Promise<PortAnchor> {
  const anchor = await anchorPort();
  anchors.add(anchor);
  return anchor;
}

/** An origin: 500 on /healthz when `sick`, 200 elsewhere; `body` is what /status answers. */
async function origin(options: { sick?: boolean; anchor?: PortAnchor } = {}) {
  const state = { sick: options.sick ?? false, body: 'all ok', hosts: [] as string[] };
  const server = http.createServer((request, response) => {
    state.hosts.push(request.headers.host ?? '');
    const status = request.url === '/healthz' && state.sick ? 500 : 200;
    response.writeHead(status, { 'content-type': 'text/plain' }).end(request.url === '/status' ? state.body : 'hello');
  });
  servers.add(server);
  // on an anchored port, closing the origin leaves the port refused, never free for another process
  if (options.anchor) await listenReusingPort(server, options.anchor.host, options.anchor.port);
  else await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const close = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    servers.delete(server);
  };
  return { server, port, state, close, id: `127.0.0.1:${port}` };
}

interface Watched {
  checker: HealthChecker;
  pool: Pool;
  /** Results of completed checks, in order. */
  results: ProbeResult[];
  /** Resolves with the reason of the next transition of `id` to `healthy` (fails after `ms`). */
  transition(id: string, healthy: boolean, ms?: number): Promise<string>;
  /** Resolves when `count` more checks have completed (fails after `ms`). */
  checks(count: number, ms?: number): Promise<void>;
}

/** A checker whose probes are the real built-ins, wrapped to announce each completed check. */
function watch(ports: number[], health: Record<string, unknown>): Watched {
  const config: HealthConfig = healthSchema.parse({ interval: '100ms', timeout: '300ms', rise: 2, fall: 3, ...health });
  const pool = new Pool('users', poolSchema.parse({ backends: ports.map((port) => ({ address: `127.0.0.1:${port}` })) }), { clock: systemClock });
  const results: ProbeResult[] = [];
  const events = new EventTarget();
  const probes = new Map<string, ProbeFactory>();
  for (const [type, factory] of builtinProbes()) {
    probes.set(type, {
      type,
      create: (healthConfig) => {
        const probe = factory.create(healthConfig);
        return {
          check: async (target, signal) => {
            const result = await probe.check(target, signal);
            if (!signal.aborted) results.push(result);
            events.dispatchEvent(new Event('check'));
            return result;
          },
        };
      },
    });
  }
  const transitions: { id: string; healthy: boolean; reason: string }[] = [];
  const checker = new HealthChecker({
    pool: 'users',
    config,
    backends: pool.backends.map(({ id, host, port }) => ({ id, host, port })),
    probes,
    onTransition: (_pool, id, healthy, reason) => {
      pool.setHealth(id, healthy, reason);
      transitions.push({ id, healthy, reason });
      events.dispatchEvent(new Event('transition'));
    },
  });
  checkers.add(checker);
  const until = (event: string, done: () => boolean, ms: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => {
        events.removeEventListener(event, listener);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const listener = () => {
        if (!done()) return;
        clearTimeout(timer);
        events.removeEventListener(event, listener);
        resolve();
      };
      events.addEventListener(event, listener);
    });
  return {
    checker,
    pool,
    results,
    async transition(id, healthy, ms = 5_000) {
      const seen = transitions.length;
      const match = () => transitions.slice(seen).find((entry) => entry.id === id && entry.healthy === healthy);
      await until('transition', () => match() !== undefined, ms, `${id} ${healthy ? 'up' : 'down'}`);
      return match()!.reason;
    },
    async checks(count, ms = 5_000) {
      const target = results.length + count;
      await until('check', () => results.length >= target, ms, `${count} checks`);
    },
  };
}

describe('active health checks on real sockets', () => {
  it('an origin answering 500 on /healthz is taken out by an http check, kept in by a tcp check', async () => {
    const sick = await origin({ sick: true });
    const well = await origin();
    const byHttp = watch([sick.port, well.port], { type: 'http', path: '/healthz', host: 'api.example.test' });
    const byTcp = watch([sick.port, well.port], { type: 'tcp' });
    await byHttp.checker.start();
    await byTcp.checker.start();
    assert.equal(await byHttp.transition(sick.id, false), 'status 500');
    assert.deepEqual(byHttp.pool.healthyAddresses().map((address) => address.port), [well.port]);
    for (let i = 0; i < 6; i++) assert.equal(byHttp.pool.pick({ clientAddress: '10.0.0.1', path: '/', header: () => undefined, cookie: () => undefined })!.backend.id, well.id);
    assert.equal(byHttp.pool.status().backends[0].health_reason, 'status 500');
    // the tcp check has had as many rounds and keeps both in
    await byTcp.checks(8);
    assert.ok(byTcp.results.every((result) => result.ok && result.reason === 'connected'));
    assert.equal(byTcp.pool.status().usable, 2);
    assert.ok(sick.state.hosts.includes('api.example.test'), 'http check sends the configured Host');
    assert.ok(well.state.hosts.every((host) => host === 'api.example.test' || host === well.id));
  });

  it('a closed port goes down after fall failures; reopened, it comes back after rise passes', async () => {
    const anchor = await anchored();
    const backend = await origin({ anchor });
    const watched = watch([backend.port], { type: 'http', path: '/', rise: 2, fall: 3 });
    await watched.checker.start();
    await watched.checks(2);
    assert.ok(watched.results.every((result) => result.ok));
    await backend.close();
    const before = watched.results.length;
    assert.equal(await watched.transition(backend.id, false), 'connection refused');
    const failures = watched.results.slice(before).filter((result) => !result.ok).length;
    assert.equal(failures, 3, 'fall = 3 failed checks');
    assert.equal(watched.pool.status().usable, 0);
    assert.deepEqual(watched.pool.healthyAddresses(), [{ host: '127.0.0.1', port: backend.port, weight: 1 }], 'DNS never empty');

    const reopened = await origin({ anchor });
    const down = watched.results.length;
    assert.equal(await watched.transition(reopened.id, true), 'status 200');
    assert.equal(watched.results.slice(down).filter((result) => result.ok).length, 2, 'rise = 2 passed checks');
    assert.equal(watched.pool.status().usable, 1);
    await reopened.close();
  });

  it('a tcp check detects a closed port the same way', async () => {
    const backend = await origin({ anchor: await anchored() });
    const watched = watch([backend.port], { type: 'tcp', fall: 2 });
    await watched.checker.start();
    await watched.checks(1);
    await backend.close();
    assert.equal(await watched.transition(backend.id, false), 'connection refused');
  });

  it('reports a body mismatch, and a timeout when the origin never answers', async () => {
    const degraded = await origin();
    degraded.state.body = 'status: degraded';
    const mute = net.createServer(() => {}); // accepts, never answers
    servers.add(mute);
    mute.listen(0, '127.0.0.1');
    await once(mute, 'listening');
    const mutePort = (mute.address() as net.AddressInfo).port;
    const watched = watch([degraded.port, mutePort], { type: 'http', path: '/status', body_contains: 'all ok', timeout: '150ms' });
    const mismatch = watched.transition(degraded.id, false);
    const timeout = watched.transition(`127.0.0.1:${mutePort}`, false);
    await watched.checker.start();
    assert.equal(await mismatch, 'body mismatch');
    assert.equal(await timeout, 'timeout');
    degraded.state.body = 'all ok, 3 workers';
    assert.equal(await watched.transition(degraded.id, true), 'status 200');
  });
});
