// How every diagnostic command ends: the result on stdout (text or --json), or one line naming the layer
// that failed on stderr (and, with --json, the same failure as an object on stdout), exit code 1.
import type { CommandIo } from '../cli/index.ts';
import { isDiagError } from './errors.ts';

export interface DiagnosticOutput<T> {
  render: (result: T) => string;
  /** A failure seen in a complete result (e.g. every probe lost): "LAYER: what" for stderr, exit code 1. */
  failure?: (result: T) => string | undefined;
}

export async function runDiagnostic<T>(io: CommandIo, name: string, json: boolean, work: () => Promise<T>, output: DiagnosticOutput<T>): Promise<number> {
  let result: T;
  try {
    result = await work();
  } catch (err) {
    if (!isDiagError(err)) throw err;
    if (json) io.stdout.write(`${JSON.stringify({ ok: false, layer: err.layer, code: err.code, error: err.detail })}\n`);
    io.stderr.write(`switchyard ${name}: ${err.message}\n`);
    return 1;
  }
  const failure = output.failure?.(result);
  io.stdout.write(json ? `${JSON.stringify({ ok: !failure, ...result, ...(failure ? { error: failure } : {}) }, null, 2)}\n` : output.render(result));
  if (!failure) return 0;
  io.stderr.write(`switchyard ${name}: ${failure}\n`);
  return 1;
}
