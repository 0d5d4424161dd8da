// switchyard ping HOST: ICMP echo with RTT statistics (native addon; see docs/cli-diagnostics.md).
import { ping, pingFailure, pingHeader, probeLine, renderPingSummary, runDiagnostic } from '../../diag/index.ts';
import { UsageError, familyOptions, jsonOption, numberOption, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'count', short: 'c', value: 'COUNT', default: '4', description: 'echo requests to send' },
  { name: 'interval', short: 'i', value: 'SECONDS', default: '1', description: 'time between requests' },
  { name: 'timeout', short: 'W', value: 'SECONDS', default: '2', description: 'wait for each reply' },
  { name: 'size', short: 's', value: 'BYTES', default: '56', description: 'payload size' },
  ...familyOptions,
  jsonOption,
];

export const command: Command = {
  summary: 'ICMP echo with round-trip statistics (falls back to advice when ICMP is not allowed)',
  synopsis: 'HOST [-c COUNT] [-i SECONDS] [-W SECONDS] [-s BYTES] [-4|-6] [--json]',
  description: [
    'Sends ICMP echo requests (native addon: an unprivileged ICMP socket, else a raw socket) and prints each reply with its round-trip time, then loss and min/avg/max/mdev like ping. When the system allows neither it says why in one line and suggests tcping.',
    'Exit status: 0 when at least one reply came back, 1 when none did or ICMP is not allowed, 2 for wrong arguments.',
  ],
  arguments: [{ name: 'HOST', description: 'name or address to ping' }],
  options,
  examples: ['switchyard ping 127.0.0.1', 'switchyard ping -c 10 -i 0.2 example.com', 'switchyard ping -6 localhost --json'],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    const positionals = parsed.positionals;
    if (positionals.length !== 1) throw new UsageError('expected one HOST');
    const count = numberOption(parsed.string('count'), '--count', 4, 1, 100_000);
    const interval = numberOption(parsed.string('interval'), '--interval', 1, 0.01, 3600);
    const timeout = numberOption(parsed.string('timeout'), '--timeout', 2, 0.01, 600);
    const size = numberOption(parsed.string('size'), '--size', 56, 0, 65000);
    const json = parsed.flag('json');
    return runDiagnostic(io, 'ping', json, () => ping({
      host: positionals[0],
      count: Math.floor(count as number),
      intervalMs: (interval as number) * 1000,
      timeoutMs: (timeout as number) * 1000,
      size: Math.floor(size as number),
      family: parsed.flag('ipv6') ? 6 : parsed.flag('ipv4') ? 4 : undefined,
      onStart: json ? undefined : (start) => io.stdout.write(pingHeader(start)),
      onProbe: json ? undefined : (probe) => io.stdout.write(probeLine(probe)),
    }), { render: renderPingSummary, failure: pingFailure });
  },
};
