// switchyard CLI entry: dispatches to commands/<name>.ts (lazily imported). `switchyard --help` lists the
// commands; `switchyard CMD --help` (or -h, or `switchyard help CMD`) prints the command's help from its
// option table and exits 0 without running it.
import { messageOf } from '../core/index.ts';
import { UsageError, type Command, type CommandIo } from './command.ts';
import { renderHelp, usageLine } from './help.ts';

const commands: Record<string, () => Promise<{ command: Command }>> = {
  start: () => import('./commands/start.ts'),
  check: () => import('./commands/check.ts'),
  reload: () => import('./commands/reload.ts'),
  purge: () => import('./commands/purge.ts'),
  demo: () => import('./commands/demo.ts'),
  dig: () => import('./commands/dig.ts'),
  tcping: () => import('./commands/tcping.ts'),
  ping: () => import('./commands/ping.ts'),
  traceroute: () => import('./commands/traceroute.ts'),
  trace: () => import('./commands/trace.ts'),
  explain: () => import('./commands/explain.ts'),
  passwd: () => import('./commands/passwd.ts'),
};

export const commandNames: readonly string[] = Object.keys(commands);

export async function loadCommand(name: string): Promise<Command | undefined> {
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  return load ? (await load()).command : undefined;
}

async function overview(io: CommandIo): Promise<number> {
  const lines = ['usage: switchyard <command> [options]', '', 'commands:'];
  for (const name of commandNames) {
    const command = await loadCommand(name).catch(() => ({ summary: '(unavailable)' }) as Command);
    lines.push(`  ${name.padEnd(11)} ${command?.summary}`);
  }
  lines.push(
    '',
    'options:',
    '  -h, --help      show this list, or with a command its options: switchyard start --help',
    '  --version       print the version',
    '',
    'switchyard help <command> (or switchyard <command> --help) shows a command\'s options, defaults and examples',
  );
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** `--help` / `-h` anywhere among the arguments (an option value that is literally "--help" counts too). */
function wantsHelp(args: string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

export async function main(argv: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h') return overview(io);
  if (name === '--version' || name === 'version') {
    io.stdout.write('switchyard 0.1.0\n');
    return 0;
  }
  if (name === 'help') {
    if (args.length === 0) return overview(io);
    const command = await loadCommand(args[0]);
    if (!command) {
      io.stderr.write(`switchyard help: unknown command ${JSON.stringify(args[0])} (try switchyard --help)\n`);
      return 2;
    }
    io.stdout.write(renderHelp(args[0], command));
    return 0;
  }
  const command = await loadCommand(name);
  if (!command) {
    io.stderr.write(`switchyard: unknown command ${JSON.stringify(name)} (try switchyard --help)\n`);
    return 2;
  }
  if (wantsHelp(args)) {
    io.stdout.write(renderHelp(name, command));
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`switchyard ${name}: ${err.message}\n${usageLine(name, command)}\n(switchyard ${name} --help lists the options)\n`);
      return 2;
    }
    io.stderr.write(`switchyard ${name}: ${messageOf(err)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  // Long-running commands (start, demo) resolve only once they have shut down.
  process.exitCode = await main(process.argv.slice(2));
}
