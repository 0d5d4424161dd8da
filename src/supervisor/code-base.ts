// Which copy of the code a forked worker runs: the worker entry beside this module when this process already
// runs the built JavaScript (dist/), else dist/'s when it is at least as new as src/ (bin/dist-fresh.cjs),
// else the .ts sources through type stripping (whose compiler adds ~18 MB to every process that uses it).
// Synchronous file-system checks: call once at start-up, before any socket opens.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface WorkerEntry {
  file: string;
  /** Set when the workers run the .ts sources: why dist/ was not used (for one log line). */
  fallback?: string;
}

type DistStatus = (root: string) => { fresh: boolean; reason: string };

/** dist/'s worker: the esbuild bundle (scripts/build-dist.cjs) when it was built, else the plain module. */
function builtWorker(root: string): string {
  const bundle = path.join(root, 'dist', 'worker', 'worker-main.js');
  return existsSync(bundle) ? bundle : path.join(root, 'dist', 'supervisor', 'worker-main.js');
}

export function workerEntry(): WorkerEntry {
  const here = import.meta.dirname;
  const root = path.resolve(here, '..', '..');
  if (import.meta.filename.endsWith('.js')) return { file: builtWorker(root) };
  const { distStatus } = createRequire(import.meta.url)(path.join(root, 'bin', 'dist-fresh.cjs')) as { distStatus: DistStatus };
  const status = distStatus(root);
  if (status.fresh) return { file: builtWorker(root) };
  return { file: path.join(here, 'worker-main.ts'), fallback: status.reason };
}
