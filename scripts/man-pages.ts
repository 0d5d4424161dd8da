// Writes docs/man/switchyard-CMD.md for every command from its option table (src/cli/help.ts). Run after
// changing a command's options or texts: node scripts/man-pages.ts. src/cli/help.test.ts fails when a page
// is out of date.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commandNames, loadCommand } from '../src/cli/main.ts';
import { renderManPage } from '../src/cli/help.ts';

const manDir = path.resolve(import.meta.dirname, '..', 'docs', 'man');
await mkdir(manDir, { recursive: true });
for (const name of commandNames) {
  const command = await loadCommand(name);
  if (!command) throw new Error(`man-pages: no command ${name}`);
  await writeFile(path.join(manDir, `switchyard-${name}.md`), renderManPage(name, command));
}
process.stdout.write(`wrote ${commandNames.length} pages to ${path.relative(process.cwd(), manDir)}/\n`);
