// switchyard tcping HOST:PORT: repeated TCP handshakes with connect-time statistics and loss.
import { attemptLine, joinHostPort, parseHostPort, renderTcpingSummary, runDiagnostic, tcping } from '../../diag/index.ts';
import { UsageError, jsonOption, numberOption, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'count', short: 'c', value: 'COUNT', default: '4', description: 'handshakes to attempt' },
  { name: 'interval', short: 'i', value: 'SECONDS', default: '1', description: 'time between attempts' },
  { name: 'timeout', short: 't', value: 'SECONDS', default: '2', description: 'wait for each handshake' },
  jsonOption,
];

export const command: Command = {
  summary: 'time repeated TCP handshakes to HOST:PORT (the L4 health check view)',
  synopsis: 'HOST:PORT [-c COUNT] [-i SECONDS] [-t SECONDS] [--json]',
  description: [
    'Opens TCP connections to HOST:PORT one after another and times each handshake, then prints loss and min/avg/max like ping. It sees what the tcp health check sees: refused, timed out, or connected.',
    'Exit status: 0 when at least one handshake succeeded, 1 when none did, 2 for wrong arguments.',
  ],
  arguments: [{ name: 'HOST:PORT', description: 'where to connect ([v6addr]:port for IPv6)' }],
  options,
  examples: ['switchyard tcping 127.0.0.1:8443', 'switchyard tcping -c 20 -i 0.1 db.internal:5432', 'switchyard tcping [::1]:80 --json'],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    const positionals = parsed.positionals;
    if (positionals.length !== 1) throw new UsageError('expected one HOST:PORT');
    const target = parseHostPort(positionals[0]);
    if (!target?.port) throw new UsageError(`expected HOST:PORT, got ${JSON.stringify(positionals[0])}`);
    const count = numberOption(parsed.string('count'), '--count', 4, 1, 100_000);
    const interval = numberOption(parsed.string('interval'), '--interval', 1, 0, 3600);
    const timeout = numberOption(parsed.string('timeout'), '--timeout', 2, 0.001, 600);
    const json = parsed.flag('json');
    const port = target.port;
    return runDiagnostic(io, 'tcping', json, () => tcping({
      host: target.host,
      port,
      count: Math.floor(count as number),
      intervalMs: (interval as number) * 1000,
      timeoutMs: (timeout as number) * 1000,
      onAttempt: json ? undefined : (attempt) => io.stdout.write(attemptLine({ address: target.host, port }, attempt)),
    }), {
      render: renderTcpingSummary,
      failure: (result) => {
        if (result.stats.received > 0) return undefined;
        const last = result.attempts.at(-1);
        return `TCP: ${joinHostPort(result.address, port)} ${last?.error ?? 'unreachable'} (${result.stats.sent} of ${result.stats.sent} attempts failed)`;
      },
    });
  },
};
