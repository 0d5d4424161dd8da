// Cleanups a test file registers as it starts things (origins, edges, temp dirs): run in reverse order after
// its tests, even when they fail, so one failing test leaves nothing running for the next file.
import { after } from 'node:test';

export type Defer = (cleanup: () => Promise<unknown>) => void;

/** Call once at a test file's top level; returns the function that registers a cleanup. */
export function cleanupStack(): Defer {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });
  return (cleanup) => cleanups.push(cleanup);
}
