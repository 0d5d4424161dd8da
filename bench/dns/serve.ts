// Starts one Switchyard DNS server from a config file for the benchmark; prints its addresses as JSON
// on stdout and runs until SIGTERM. `serve.ts CONFIG [--udp dgram]`.
import { loadConfigFile } from '../../src/config/index.ts';
import { createLogger } from '../../src/core/index.ts';
import { createDnsServer } from '../../src/dns/index.ts';

const { config, baseDir } = await loadConfigFile(process.argv[2]);
if (!config.dns) throw new Error('bench: the config has no dns section');
// --udp dgram: node:dgram instead of the recvmmsg/sendmmsg addon (A/B against the batched path)
const udpBatch = process.argv[3] !== '--udp' || process.argv[4] !== 'dgram';
const server = createDnsServer(config.dns, { logger: createLogger({ level: 'warn', destination: 2 }), baseDir, udpBatch });
await server.start();
process.stdout.write(`${JSON.stringify(server.addresses())}\n`);
process.once('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
