// Where a test keeps what a person (or CI) looks at afterwards — the browser tests' screenshots: under
// test-artifacts/<name>/ in the checkout (gitignored), or under $SWITCHYARD_TEST_ARTIFACTS/<name>/ when set.
// Kept after the run, overwritten by the next one.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from './run-switchyard.ts';

export async function artifactDir(name: string): Promise<string> {
  const dir = path.join(process.env.SWITCHYARD_TEST_ARTIFACTS ?? path.join(projectRoot, 'test-artifacts'), name);
  await mkdir(dir, { recursive: true });
  return dir;
}
