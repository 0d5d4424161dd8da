// The connection pool to one auth service: one undici Pool per process and origin (env.shared), so every
// route naming that service, and the filter objects a reload builds again, share its keep-alive
// connections. Building the Pool opens nothing; the first subrequest connects. undici is imported by that
// first subrequest too: a worker without forward_auth never loads it (~20 MB with its HTTP parser,
// docs/operations.md, "Memory").
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as Undici from 'undici';
import type { Pool } from 'undici';
import type { MiddlewareSettings } from '../../../config/index.ts';
import { ConfigError } from '../../../core/index.ts';
import type { FilterEnv } from '../types.ts';

type ForwardAuthSettings = MiddlewareSettings['forward_auth'];

/** The shared pool for the settings' origin, CA and connection bound. */
export function authPool(settings: ForwardAuthSettings, env: FilterEnv, undici: typeof Undici): Pool {
  const origin = new URL(settings.url).origin;
  let ca: Buffer | undefined;
  if (settings.ca_file !== undefined) {
    const file = path.resolve(env.baseDir, settings.ca_file);
    try {
      ca = readFileSync(file);
    } catch (err) {
      throw new ConfigError([`forward_auth: ca_file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
  }
  const key = `forward_auth:${origin}:${settings.ca_file === undefined ? '' : path.resolve(env.baseDir, settings.ca_file)}:${settings.max_connections}:${settings.timeout}`;
  return env.shared(
    key,
    () =>
      new undici.Pool(origin, {
        connections: settings.max_connections,
        connect: { timeout: settings.timeout, ...(ca !== undefined ? { ca } : {}) },
        // the subrequest has its own overall deadline; these only keep a stuck socket from lingering
        headersTimeout: settings.timeout,
        bodyTimeout: settings.timeout,
      }),
  );
}
