// switchyard ping HOST: ICMP echo with RTT statistics (native addon; see docs/cli-diagnostics.md).
import { ping, pingFailure, pingHeader, probeLine, renderPingSummary, runDiagnostic } from '../../diag/index.ts';
import { UsageError, numberOption, parseCommandArgs, type Command } from '../command.ts';

const usage = `usage: switchyard ping HOST [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [-s SIZE] [-4|-6] [--json]
  -c, --count COUNT        echo requests to send (default 4)
  -i, --interval SECONDS   time between requests (default 1)
  -W, --timeout SECONDS    wait for each reply (default 2)
  -s, --size BYTES         payload size (default 56)
  -4, -6                   resolve HOST to an IPv4 / IPv6 address only
  --json                   print the result as JSON`;

export const command: Command = {
  summary: 'ICMP echo with round-trip statistics (falls back to advice when ICMP is not allowed)',
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      count: { type: 'string', short: 'c' },
      interval: { type: 'string', short: 'i' },
      timeout: { type: 'string', short: 'W' },
      size: { type: 'string', short: 's' },
      ipv4: { type: 'boolean', short: '4' },
      ipv6: { type: 'boolean', short: '6' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('expected one HOST');
    const count = numberOption(values.count, '--count', 4, 1, 100_000);
    const interval = numberOption(values.interval, '--interval', 1, 0.01, 3600);
    const timeout = numberOption(values.timeout, '--timeout', 2, 0.01, 600);
    const size = numberOption(values.size, '--size', 56, 0, 65000);
    const json = Boolean(values.json);
    return runDiagnostic(io, 'ping', json, () => ping({
      host: positionals[0],
      count: Math.floor(count as number),
      intervalMs: (interval as number) * 1000,
      timeoutMs: (timeout as number) * 1000,
      size: Math.floor(size as number),
      family: values.ipv6 ? 6 : values.ipv4 ? 4 : undefined,
      onStart: json ? undefined : (start) => io.stdout.write(pingHeader(start)),
      onProbe: json ? undefined : (probe) => io.stdout.write(probeLine(probe)),
    }), { render: renderPingSummary, failure: pingFailure });
  },
};
