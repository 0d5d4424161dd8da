// Which copy of the code a forked worker runs: the worker entry beside this module when this process already
// runs the built JavaScript (dist/), else dist/'s when it is at least as new as src/ (bin/dist-fresh.cjs),
// else the .ts sources through type stripping (whose compiler adds ~18 MB to every process that uses it).
// Synchronous file-system checks: call once at start-up, before any socket opens.
import { createRequire } from 'node:module';
import path from 'node:path';

export interface WorkerEntry {
  file: string;
  /** Set when the workers run the .ts sources: why dist/ was not used (for one log line). */
  fallback?: string;
}

type DistStatus = (root: string) => { fresh: boolean; reason: string };

export function workerEntry(): WorkerEntry {
  const here = import.meta.dirname;
  if (import.meta.filename.endsWith('.js')) return { file: path.join(here, 'worker-main.js') };
  const root = path.resolve(here, '..', '..');
  const { distStatus } = createRequire(import.meta.url)(path.join(root, 'bin', 'dist-fresh.cjs')) as { distStatus: DistStatus };
  const status = distStatus(root);
  if (status.fresh) return { file: path.join(root, 'dist', 'supervisor', 'worker-main.js') };
  return { file: path.join(here, 'worker-main.ts'), fallback: status.reason };
}
