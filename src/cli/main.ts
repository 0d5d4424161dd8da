// switchyard CLI entry: dispatches to commands/<name>.ts (lazily imported).
import { messageOf } from '../core/index.ts';
import { UsageError, type Command, type CommandIo } from './command.ts';

const commands: Record<string, () => Promise<{ command: Command }>> = {
  start: () => import('./commands/start.ts'),
  check: () => import('./commands/check.ts'),
  reload: () => import('./commands/reload.ts'),
  demo: () => import('./commands/demo.ts'),
  dig: () => import('./commands/dig.ts'),
  tcping: () => import('./commands/tcping.ts'),
  ping: () => import('./commands/ping.ts'),
  traceroute: () => import('./commands/traceroute.ts'),
  trace: () => import('./commands/trace.ts'),
};

async function help(io: CommandIo, name?: string): Promise<number> {
  if (name && commands[name]) {
    const { command } = await commands[name]();
    io.stdout.write(`${command.usage}\n`);
    return 0;
  }
  const lines = ['usage: switchyard <command> [options]', '', 'commands:'];
  for (const [commandName, load] of Object.entries(commands)) {
    const { command } = await load().catch(() => ({ command: { summary: '(unavailable)' } as Command }));
    lines.push(`  ${commandName.padEnd(11)} ${command.summary}`);
  }
  lines.push('', 'switchyard help <command> for its options');
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

export async function main(argv: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') return help(io, args[0]);
  if (name === '--version' || name === 'version') {
    io.stdout.write('switchyard 0.1.0\n');
    return 0;
  }
  const load = commands[name];
  if (!load) {
    io.stderr.write(`switchyard: unknown command ${JSON.stringify(name)} (try switchyard help)\n`);
    return 2;
  }
  const { command } = await load();
  try {
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`switchyard ${name}: ${err.message}\n${command.usage}\n`);
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
