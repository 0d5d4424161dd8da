// The process's two loggers: operational logs on stdout, and the access log wherever `log.access_log` says.
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { createLogger, silentLogger, type Logger } from '../core/index.ts';
import { LineFileSink } from '../core/line-file-sink.ts';

export interface Loggers {
  logger: Logger;
  accessLog: Logger;
}

export function createLoggers(config: Config, baseDir: string): Loggers {
  const logger = createLogger({ level: config.log.level });
  const target = config.log.access_log;
  let accessLog: Logger;
  if (target === 'off') accessLog = silentLogger();
  else if (target === 'stdout') accessLog = logger.child({ log: 'access' });
  else if (target === 'stderr') accessLog = createLogger({ level: 'info', destination: 2 }).child({ log: 'access' });
  else {
    const file = path.resolve(baseDir, target);
    const sink = LineFileSink.open(file, { onDrop: (lines) => logger.warn({ file, lines }, 'access log: the disk is not keeping up, lines dropped') });
    accessLog = createLogger({ level: 'info', destination: sink }).child({ log: 'access' });
  }
  return { logger, accessLog };
}
