// Command line and environment → AppOptions. Flags for what differs per instance (service, port, name);
// environment variables for what a deployment sets once (database, secrets, pool sizes).
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { DatabaseOptions } from './db/index.ts';
import { defaultTrustedProxies } from './http/client-address.ts';

export const serviceNames = ['users', 'orders', 'all'] as const;
export type ServiceName = (typeof serviceNames)[number];

export interface AppOptions {
  service: ServiceName;
  host: string;
  /** 0 lets the OS choose (tests); the chosen port is logged and returned by start(). */
  port: number;
  instance: string;
  dataDir: string;
  database: DatabaseOptions;
  trustedProxies: string[];
  corsOrigins: string[];
  bodyLimit: number;
  healthTimeoutMs: number;
  tokenTtlSeconds: number;
  /** JWT_SECRET; when absent the secret lives in <dataDir>/jwt.secret. */
  jwtSecret: string | undefined;
  /** How long stop() lets in-flight requests finish. */
  drainTimeoutMs: number;
}

export const usage = `usage: node demo/app/main.ts --service users|orders|all [--port 3001] [--host 127.0.0.1]
       [--instance users-1] [--data-dir ./data] [--trusted-proxies 127.0.0.0/8,::1/128]
       [--cors-origins https://example.test:8443] [--body-limit 65536]
environment: DATABASE_URL (PostgreSQL; SQLite in the data directory when unset), DB_POOL_MAX (10),
  DB_ACQUIRE_TIMEOUT_MS (1000), DB_IDLE_TIMEOUT_MS (30000), DB_STATEMENT_TIMEOUT_MS (5000),
  SQLITE_BUSY_TIMEOUT_MS (1000), HEALTH_TIMEOUT_MS (500), JWT_SECRET, TOKEN_TTL_SECONDS (3600), LOG_LEVEL (info)`;

function integer(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name}: expected a non-negative integer, got ${JSON.stringify(text)}`);
  return value;
}

const list = (text: string | undefined, fallback: string[]): string[] =>
  text === undefined ? fallback : text.split(',').map((item) => item.trim()).filter(Boolean);

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): AppOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      service: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      instance: { type: 'string' },
      'data-dir': { type: 'string' },
      'trusted-proxies': { type: 'string' },
      'cors-origins': { type: 'string' },
      'body-limit': { type: 'string' },
    },
  });
  const service = values.service as ServiceName;
  if (!serviceNames.includes(service)) throw new Error(`--service: expected users, orders or all, got ${JSON.stringify(values.service)}`);
  const port = integer(values.port, 0, '--port');
  if (port > 65535) throw new Error(`--port: expected 0-65535, got ${port}`);
  const instance = values.instance ?? `${service}-${port}`;
  const dataDir = resolve(values['data-dir'] ?? env.DATA_DIR ?? './data');
  return {
    service,
    host: values.host ?? '127.0.0.1',
    port,
    instance,
    dataDir,
    database: {
      url: env.DATABASE_URL || undefined,
      sqliteFile: resolve(dataDir, 'demo.sqlite'),
      busyTimeoutMs: integer(env.SQLITE_BUSY_TIMEOUT_MS, 1000, 'SQLITE_BUSY_TIMEOUT_MS'),
      poolMax: Math.max(1, integer(env.DB_POOL_MAX, 10, 'DB_POOL_MAX')),
      acquireTimeoutMs: integer(env.DB_ACQUIRE_TIMEOUT_MS, 1000, 'DB_ACQUIRE_TIMEOUT_MS'),
      idleTimeoutMs: integer(env.DB_IDLE_TIMEOUT_MS, 30_000, 'DB_IDLE_TIMEOUT_MS'),
      statementTimeoutMs: integer(env.DB_STATEMENT_TIMEOUT_MS, 5000, 'DB_STATEMENT_TIMEOUT_MS'),
      applicationName: `switchyard-demo ${instance}`,
    },
    trustedProxies: list(values['trusted-proxies'] ?? env.TRUSTED_PROXIES, defaultTrustedProxies),
    corsOrigins: list(values['cors-origins'] ?? env.CORS_ORIGINS, ['https://example.test:8443']),
    bodyLimit: integer(values['body-limit'], 64 * 1024, '--body-limit'),
    healthTimeoutMs: integer(env.HEALTH_TIMEOUT_MS, 500, 'HEALTH_TIMEOUT_MS'),
    tokenTtlSeconds: Math.max(1, integer(env.TOKEN_TTL_SECONDS, 3600, 'TOKEN_TTL_SECONDS')),
    jwtSecret: env.JWT_SECRET || undefined,
    drainTimeoutMs: 5000,
  };
}
