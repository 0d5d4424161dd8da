// What the supervisor tests share: echo origins and edges that are stopped after the file's tests, and the
// origin that answered a request.
import assert from 'node:assert/strict';
import { runSwitchyard, type RunOptions, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';
import { cleanupStack, type Defer } from '../../support/cleanup.ts';

export interface SupervisorKit {
  defer: Defer;
  origin(name?: string): Promise<EchoOrigin>;
  edge(yaml: string, options?: RunOptions): Promise<RunningSwitchyard>;
}

/** Call once at a test file's top level. */
export function supervisorKit(): SupervisorKit {
  const defer = cleanupStack();
  return {
    defer,
    async origin(name = 'a') {
      const started = await startEchoOrigin({ name });
      defer(() => started.close());
      return started;
    },
    async edge(yaml, options = {}) {
      const running = await runSwitchyard(yaml, options);
      defer(() => running.stop());
      return running;
    },
  };
}

/** The name of the echo origin that answered a GET of `url` (its x-origin header). */
export async function originOf(url: string): Promise<string> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  return response.headers.get('x-origin') ?? '';
}

/**
 * The smallest edge: `head` (top-level keys: admin, workers, shutdown_timeout…), then one pool of one backend
 * and one http listener routing everything to it.
 */
export const onePoolConfig = (backend: string, head = 'admin: { listen: 127.0.0.1:0 }'): string => `
${head}
pools:
  app:
    backends: [ { address: ${backend} } ]
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - match: { path_prefix: / }
        pool: app
`;
