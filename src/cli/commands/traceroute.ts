// switchyard traceroute HOST: hop discovery with UDP probes of increasing TTL (native addon, IP_RECVERR).
import { hopLine, renderTraceroute, runDiagnostic, traceroute, tracerouteFailure, tracerouteHeader } from '../../diag/index.ts';
import { UsageError, familyOptions, jsonOption, numberOption, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'max-hops', short: 'm', value: 'N', default: '30', description: 'largest TTL to try' },
  { name: 'queries', short: 'q', value: 'N', default: '3', description: 'probes per hop' },
  { name: 'wait', short: 'w', value: 'SECONDS', default: '3', description: 'wait for each probe\'s answer' },
  { name: 'port', short: 'p', value: 'PORT', default: '33434', description: 'first destination port, one more per probe' },
  ...familyOptions,
  jsonOption,
];

export const command: Command = {
  summary: 'show the routers on the path to HOST (UDP probes with increasing TTL)',
  synopsis: 'HOST [-m N] [-q N] [-w SECONDS] [-p PORT] [-4|-6] [--json]',
  description: [
    'Sends UDP probes with increasing TTL (native addon, IP_RECVERR: no root needed) and prints the router that answered each hop with the round-trip times, like traceroute, until HOST answers or --max-hops is reached.',
    'Exit status: 0 when HOST was reached, 1 when it was not, 2 for wrong arguments.',
  ],
  arguments: [{ name: 'HOST', description: 'name or address to trace the path to' }],
  options,
  examples: ['switchyard traceroute 127.0.0.1', 'switchyard traceroute -m 15 -q 1 example.com', 'switchyard traceroute -6 localhost --json'],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    const positionals = parsed.positionals;
    if (positionals.length !== 1) throw new UsageError('expected one HOST');
    const maxHops = numberOption(parsed.string('max-hops'), '--max-hops', 30, 1, 255);
    const probes = numberOption(parsed.string('queries'), '--queries', 3, 1, 10);
    const wait = numberOption(parsed.string('wait'), '--wait', 3, 0.01, 60);
    const port = numberOption(parsed.string('port'), '--port', 33434, 1, 65535);
    const json = parsed.flag('json');
    const host = positionals[0];
    return runDiagnostic(io, 'traceroute', json, () => traceroute({
      host,
      maxHops: Math.floor(maxHops as number),
      probes: Math.floor(probes as number),
      waitMs: (wait as number) * 1000,
      basePort: Math.floor(port as number),
      family: parsed.flag('ipv6') ? 6 : parsed.flag('ipv4') ? 4 : undefined,
      onStart: json ? undefined : (address) => io.stdout.write(tracerouteHeader(host, address, maxHops as number)),
      onHop: json ? undefined : (hop) => io.stdout.write(hopLine(hop)),
    }), { render: renderTraceroute, failure: tracerouteFailure });
  },
};
