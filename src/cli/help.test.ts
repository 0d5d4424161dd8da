// Every command's --help comes from its option table, and docs/man/ pages are that table too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { commandNames, loadCommand, main } from './main.ts';
import { optionLabel, renderManPage } from './help.ts';
import { helpOption } from './command.ts';

const manDir = path.resolve(import.meta.dirname, '..', '..', 'docs', 'man');

async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await main(argv, { stdout, stderr });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

for (const name of commandNames) {
  test(`switchyard ${name} --help / -h / help ${name}: exit 0, every option with its default, an example`, async () => {
    const command = (await loadCommand(name))!;
    const long = await runMain([name, '--help']);
    assert.equal(long.code, 0);
    assert.equal(long.stderr, '');
    assert.match(long.stdout, new RegExp(`^usage: switchyard ${name} `));
    const flat = long.stdout.replace(/\s+/g, ' ');
    for (const option of [...command.options, helpOption]) {
      assert.ok(long.stdout.includes(optionLabel(option)), `${name} --help lacks ${optionLabel(option)}`);
      if (option.default !== undefined) assert.ok(flat.includes(`(default ${option.default})`), `${name} --help lacks the default of --${option.name}`);
    }
    assert.ok(command.examples.length > 0);
    for (const example of command.examples) assert.ok(long.stdout.includes(example));
    assert.deepEqual(await runMain([name, '-h']), long);
    assert.deepEqual(await runMain(['help', name]), long);
  });

  test(`docs/man/switchyard-${name}.md is generated from the option table and lists every option`, async () => {
    const command = (await loadCommand(name))!;
    const page = await readFile(path.join(manDir, `switchyard-${name}.md`), 'utf8');
    for (const option of command.options) assert.ok(page.includes(`\`${optionLabel(option).replace(/\|/g, '\\|')}\``), `the page lacks ${optionLabel(option)}`);
    assert.equal(page, renderManPage(name, command), `docs/man/switchyard-${name}.md is out of date: node scripts/man-pages.ts`);
  });
}

test('switchyard --help lists every command; unknown ones exit 2', async () => {
  for (const argv of [['--help'], ['-h'], ['help'], []]) {
    const { code, stdout } = await runMain(argv);
    assert.equal(code, 0);
    for (const name of commandNames) assert.match(stdout, new RegExp(`^  ${name} +\\S`, 'm'));
  }
  assert.equal((await runMain(['help', 'frobnicate'])).code, 2);
  const wrong = await runMain(['start', '--bogus']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /unknown option --bogus\n[\s\S]*usage: switchyard start -c FILE[\s\S]*switchyard start --help/);
});
