// switchyard tcping HOST:PORT: repeated TCP handshakes with connect-time statistics and loss.
import { attemptLine, joinHostPort, parseHostPort, renderTcpingSummary, runDiagnostic, tcping } from '../../diag/index.ts';
import { UsageError, numberOption, parseCommandArgs, type Command } from '../command.ts';

const usage = `usage: switchyard tcping HOST:PORT [-c COUNT] [-i INTERVAL] [-t TIMEOUT] [--json]
  -c, --count COUNT        handshakes to attempt (default 4)
  -i, --interval SECONDS   time between attempts (default 1)
  -t, --timeout SECONDS    wait for each handshake (default 2)
  --json                   print the result as JSON`;

export const command: Command = {
  summary: 'time repeated TCP handshakes to HOST:PORT (the L4 health check view)',
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      count: { type: 'string', short: 'c' },
      interval: { type: 'string', short: 'i' },
      timeout: { type: 'string', short: 't' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('expected one HOST:PORT');
    const target = parseHostPort(positionals[0]);
    if (!target?.port) throw new UsageError(`expected HOST:PORT, got ${JSON.stringify(positionals[0])}`);
    const count = numberOption(values.count, '--count', 4, 1, 100_000);
    const interval = numberOption(values.interval, '--interval', 1, 0, 3600);
    const timeout = numberOption(values.timeout, '--timeout', 2, 0.001, 600);
    const json = Boolean(values.json);
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
