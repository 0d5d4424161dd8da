// The process's two loggers: operational logs on stdout, and the access log wherever `log.access_log` says.
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { createLogger, silentLogger, type Logger } from '../core/index.ts';
import { openAccessLogSink } from '../l7/access-log-sink.ts';

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
  // stdout shares the operational logger's stream (whole lines, never interleaved); a file or stderr gets
  // the access log's own double-buffered sink.
  else {
    const sink = openAccessLogSink(target === 'stderr' ? 2 : path.resolve(baseDir, target));
    accessLog = createLogger({ level: 'info', destination: sink }).child({ log: 'access' });
  }
  return { logger, accessLog };
}
