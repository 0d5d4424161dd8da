// Child process for the link-cut test: runs one HealthChecker (real probes, system clock) inside a network
// namespace and prints one JSON line per completed check and per transition. Config comes as argv[2].
import { healthSchema } from '../../../src/config/index.ts';
import { HealthChecker, builtinProbes, type ProbeFactory } from '../../../src/health/index.ts';

const { health, target } = JSON.parse(process.argv[2]) as { health: Record<string, unknown>; target: { host: string; port: number } };
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...line, at: Date.now() })}\n`);

const probes = new Map<string, ProbeFactory>();
for (const [type, factory] of builtinProbes()) {
  probes.set(type, {
    type,
    create: (config) => {
      const probe = factory.create(config);
      return {
        check: async (probeTarget, signal) => {
          const result = await probe.check(probeTarget, signal);
          print({ event: 'check', ok: result.ok, reason: result.reason });
          return result;
        },
      };
    },
  });
}

const checker = new HealthChecker({
  pool: 'netns',
  config: healthSchema.parse(health),
  backends: [{ id: `${target.host}:${target.port}`, ...target }],
  probes,
  onTransition: (_pool, _id, healthy, reason) => print({ event: 'transition', healthy, reason }),
});
await checker.start();
// keep the process alive (the checker's timers are unref'd) until the test ends it
const keepAlive = setInterval(() => {}, 60_000);
process.once('SIGTERM', () => {
  clearInterval(keepAlive);
  void checker.stop();
});
