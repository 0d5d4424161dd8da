// switchyard traceroute HOST: hop discovery with UDP probes of increasing TTL (native addon, IP_RECVERR).
import { hopLine, renderTraceroute, runDiagnostic, traceroute, tracerouteFailure, tracerouteHeader } from '../../diag/index.ts';
import { UsageError, numberOption, parseCommandArgs, type Command } from '../command.ts';

const usage = `usage: switchyard traceroute HOST [-m MAXHOPS] [-q PROBES] [-w WAIT] [-p PORT] [-4|-6] [--json]
  -m, --max-hops N      largest TTL to try (default 30)
  -q, --queries N       probes per hop (default 3)
  -w, --wait SECONDS    wait for each probe's answer (default 3)
  -p, --port PORT       first destination port (default 33434, one more per probe)
  -4, -6                resolve HOST to an IPv4 / IPv6 address only
  --json                print the result as JSON`;

export const command: Command = {
  summary: 'show the routers on the path to HOST (UDP probes with increasing TTL)',
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      'max-hops': { type: 'string', short: 'm' },
      queries: { type: 'string', short: 'q' },
      wait: { type: 'string', short: 'w' },
      port: { type: 'string', short: 'p' },
      ipv4: { type: 'boolean', short: '4' },
      ipv6: { type: 'boolean', short: '6' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('expected one HOST');
    const maxHops = numberOption(values['max-hops'], '--max-hops', 30, 1, 255);
    const probes = numberOption(values.queries, '--queries', 3, 1, 10);
    const wait = numberOption(values.wait, '--wait', 3, 0.01, 60);
    const port = numberOption(values.port, '--port', 33434, 1, 65535);
    const json = Boolean(values.json);
    const host = positionals[0];
    return runDiagnostic(io, 'traceroute', json, () => traceroute({
      host,
      maxHops: Math.floor(maxHops as number),
      probes: Math.floor(probes as number),
      waitMs: (wait as number) * 1000,
      basePort: Math.floor(port as number),
      family: values.ipv6 ? 6 : values.ipv4 ? 4 : undefined,
      onStart: json ? undefined : (address) => io.stdout.write(tracerouteHeader(host, address, maxHops as number)),
      onHop: json ? undefined : (hop) => io.stdout.write(hopLine(hop)),
    }), { render: renderTraceroute, failure: tracerouteFailure });
  },
};
