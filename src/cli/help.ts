// Help texts from a command's own table (command.ts): `switchyard CMD --help` / `switchyard help CMD` in the
// terminal, and the Markdown man-style page docs/man/switchyard-CMD.md (scripts/man-pages.ts writes them;
// src/cli/help.test.ts fails when a page is out of date). Pure functions of the table.
import { helpOption, type Command, type OptionSpec } from './command.ts';

const WIDTH = 100;

/** `-c, --config FILE` / `--json` / `-4` */
export function optionLabel(option: OptionSpec): string {
  const long = option.name.length === 1 ? `-${option.name}` : `--${option.name}`;
  const names = option.short && option.short !== option.name ? `-${option.short}, ${long}` : long;
  return option.value === undefined ? names : `${names} ${option.value}`;
}

function optionText(option: OptionSpec): string {
  const repeat = option.multiple ? ' (repeatable)' : '';
  const fallback = option.default === undefined ? '' : ` (default ${option.default})`;
  return `${option.description}${repeat}${fallback}`;
}

/** Words of `text` in lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

/** Two columns: term, then its text wrapped beside it. */
function table(rows: [string, string][]): string[] {
  const column = Math.min(Math.max(...rows.map(([term]) => term.length)) + 5, 36);
  const out: string[] = [];
  for (const [term, text] of rows) {
    const body = wrap(text, WIDTH - column);
    if (term.length + 5 > column) out.push(`  ${term}`);
    else out.push(`  ${term.padEnd(column - 2)}${body.shift() ?? ''}`);
    for (const line of body) out.push(`${' '.repeat(column)}${line}`);
  }
  return out;
}

export function usageLine(name: string, command: Command): string {
  return `usage: switchyard ${name} ${command.synopsis}`;
}

/** The terminal help: usage, what it does, arguments, options (with defaults), examples. */
export function renderHelp(name: string, command: Command): string {
  const lines = [usageLine(name, command), ''];
  for (const paragraph of command.description) lines.push(...wrap(paragraph, WIDTH), '');
  if (command.arguments.length > 0) lines.push('arguments:', ...table(command.arguments.map((arg) => [arg.name, arg.description])), '');
  lines.push('options:', ...table([...command.options, helpOption].map((option) => [optionLabel(option), optionText(option)])), '');
  lines.push('examples:', ...command.examples.map((example) => `  ${example}`));
  return `${lines.join('\n')}\n`;
}

/** The man-style Markdown page for docs/man/switchyard-NAME.md. */
export function renderManPage(name: string, command: Command): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const lines = [
    `# switchyard ${name}`,
    '',
    '<!-- generated from src/cli/commands/' + name + '.ts by `node scripts/man-pages.ts`; edit the command\'s table, not this page -->',
    '',
    `${command.summary}`,
    '',
    '## Synopsis',
    '',
    '```',
    `switchyard ${name} ${command.synopsis}`,
    '```',
    '',
    '## Description',
    '',
  ];
  for (const paragraph of command.description) lines.push(paragraph, '');
  if (command.arguments.length > 0) {
    lines.push('## Arguments', '', '| Argument | Meaning |', '| --- | --- |');
    for (const arg of command.arguments) lines.push(`| \`${cell(arg.name)}\` | ${cell(arg.description)} |`);
    lines.push('');
  }
  lines.push('## Options', '', '| Option | Meaning | Default |', '| --- | --- | --- |');
  for (const option of [...command.options, helpOption]) {
    lines.push(`| \`${cell(optionLabel(option))}\` | ${cell(option.description)}${option.multiple ? ' (repeatable)' : ''} | ${option.default === undefined ? '' : cell(option.default)} |`);
  }
  lines.push('', '## Examples', '', '```sh', ...command.examples, '```', '');
  return lines.join('\n');
}
