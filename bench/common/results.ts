// RESULTS-*.md files: a script regenerates its own part (everything before the first "## " heading) and
// keeps the hand-written sections after it (readings, earlier runs).
import { readFile, writeFile } from 'node:fs/promises';

/** Writes `report` over the generated part of `file`, keeping its sections from the first "## " on. */
export async function writeKeepingSections(file: string, report: string): Promise<void> {
  const old = await readFile(file, 'utf8').catch(() => '');
  const at = old.search(/^## /m);
  await writeFile(file, at >= 0 ? `${report.trimEnd()}\n\n${old.slice(at)}` : report);
}
