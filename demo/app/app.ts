// DemoApp: one instance of the users or orders service (or both, for a single-process setup).
// Constructor does no I/O; start() opens the database, creates the schema and listens; stop() drains
// in-flight requests and closes everything, and works after a partial start.
import { createServer, type Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { openRepository, type NewUser, type Repository } from './db/index.ts';
import { hashPassword } from './auth/passwords.ts';
import { TokenService, loadTokenSecret } from './auth/tokens.ts';
import { TrustedProxies } from './http/client-address.ts';
import { CorsPolicy } from './http/cors.ts';
import { Router } from './http/router.ts';
import { createRequestHandler } from './http/pipeline.ts';
import { sessionRoutes } from './resources/session.ts';
import { userRoutes } from './resources/users.ts';
import { orderRoutes } from './resources/orders.ts';
import { healthRoutes } from './resources/health.ts';
import type { Services } from './resources/services.ts';
import type { AppOptions } from './options.ts';

/** The seed users (password = user name); created only in an empty database. */
async function seedUsers(): Promise<NewUser[]> {
  const people = [
    { username: 'demo', name: 'Demo User', email: 'demo@example.test' },
    { username: 'alice', name: 'Alice Example', email: 'alice@example.test' },
  ];
  return Promise.all(people.map(async (person) => ({ ...person, passwordHash: await hashPassword(person.username) })));
}

export class DemoApp {
  readonly options: AppOptions;
  readonly #log: Logger;
  #repository: Repository | undefined;
  #server: Server | undefined;
  #draining = false;

  constructor(options: AppOptions, log: Logger) {
    this.options = options;
    this.#log = log;
  }

  /** Resolves with the bound address once the instance accepts requests. */
  async start(): Promise<{ host: string; port: number; database: string }> {
    const { options } = this;
    // Validated first: a bad CIDR must fail start-up, not the first request.
    const trustedProxies = new TrustedProxies(options.trustedProxies);
    await mkdir(options.dataDir, { recursive: true });
    const tokens = new TokenService(await loadTokenSecret(options.dataDir, options.jwtSecret), options.tokenTtlSeconds);
    const opened = await openRepository(options.database, this.#log);
    this.#repository = opened.repository;
    await opened.repository.init(await seedUsers());

    const services: Services = {
      repository: opened.repository,
      tokens,
      instance: options.instance,
      service: options.service,
      healthTimeoutMs: options.healthTimeoutMs,
    };
    const router = new Router().add(healthRoutes(services, () => this.#draining));
    if (options.service !== 'orders') router.add(sessionRoutes(services)).add(userRoutes(services));
    if (options.service !== 'users') router.add(orderRoutes(services));

    const server = createServer(
      createRequestHandler({ router, cors: new CorsPolicy(options.corsOrigins), trustedProxies, tokens, bodyLimit: options.bodyLimit, instance: options.instance, log: this.#log }),
    );
    // Idle keep-alive connections outlive the edge's upstream idle timeout, so the edge (which knows
    // when it is about to reuse one) closes them, never the app in the middle of a new request.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    return { host: address.address, port: address.port, database: opened.description };
  }

  /** Fails /healthz, lets in-flight requests finish (up to drainTimeoutMs), then closes the database. */
  async stop(): Promise<void> {
    this.#draining = true;
    const server = this.#server;
    this.#server = undefined;
    if (server?.listening) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), this.options.drainTimeoutMs);
      await closed;
      clearTimeout(timer);
    }
    const repository = this.#repository;
    this.#repository = undefined;
    await repository?.close();
  }
}
