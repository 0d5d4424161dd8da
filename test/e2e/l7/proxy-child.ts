// A proxy in its own process, for tests that measure it from outside (memory). Reads the listener and
// pools config as JSON from argv[2], prints {"port":N} on stdout once listening, stops on SIGTERM.
import { startProxy } from './helpers.ts';

const { listener, pools } = JSON.parse(process.argv[2]) as { listener: Record<string, unknown>; pools: Record<string, unknown> };
const proxy = await startProxy(listener, pools);
process.stdout.write(JSON.stringify({ port: proxy.port }) + '\n');
process.on('SIGTERM', () => {
  void proxy.stop().then(() => process.exit(0));
});
