// The process's two loggers: operational logs on stdout, and the access log wherever `log.access_log` says,
// in `log.access_log_format` (the format rides on the access logger: see src/core/access-formats.ts).
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { LineFileSink, accessLineRewriter, createLogger, silentLogger, type Logger } from '../core/index.ts';

export interface Loggers {
  logger: Logger;
  accessLog: Logger;
}

export function createLoggers(config: Config, baseDir: string): Loggers {
  const logger = createLogger({ level: config.log.level });
  const target = config.log.access_log;
  const streamWrite = accessLineRewriter(config.log.access_log_format);
  let accessLog: Logger;
  if (target === 'off') accessLog = silentLogger();
  // JSON access lines share the operational log's stream; another format needs a logger of its own
  else if (target === 'stdout') accessLog = streamWrite ? createLogger({ level: 'info', destination: 1, streamWrite }).child({ log: 'access' }) : logger.child({ log: 'access' });
  else if (target === 'stderr') accessLog = createLogger({ level: 'info', destination: 2, streamWrite }).child({ log: 'access' });
  else {
    const file = path.resolve(baseDir, target);
    const sink = LineFileSink.open(file, { onDrop: (lines) => logger.warn({ file, lines }, 'access log: the disk is not keeping up, lines dropped') });
    accessLog = createLogger({ level: 'info', destination: sink, streamWrite }).child({ log: 'access' });
  }
  return { logger, accessLog };
}
