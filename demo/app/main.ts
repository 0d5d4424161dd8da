// The demo application server: `node demo/app/main.ts --service users --port 3001 --instance users-1`.
// Logs JSON lines (pino) to stdout; the first line with msg "listening" carries the bound port.
// SIGINT/SIGTERM drain in-flight requests, close the database and exit.
import { pino } from 'pino';
import { DemoApp } from './app.ts';
import { parseOptions, usage } from './options.ts';

async function main(): Promise<number> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`demo app: ${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  const log = pino({
    level: process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid, instance: options.instance },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
  const app = new DemoApp(options, log);
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      app.stop().then(resolve, resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  try {
    const address = await app.start();
    log.info({ service: options.service, host: address.host, port: address.port, database: address.database }, 'listening');
  } catch (err) {
    log.error({ err: (err as Error).message }, 'start failed');
    await app.stop();
    return 1;
  }
  await stopped;
  return 0;
}

process.exitCode = await main();
