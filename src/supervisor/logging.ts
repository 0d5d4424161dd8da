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
  else if (target === 'stdout' || target === 'stderr') {
    // the access log's own sink on the fd: encoded lines in large writes (atomic line runs on a pipe), as
    // to a file, where pino's stream cost several µs per request; operational lines keep pino's stream
    const fd = target === 'stdout' ? 1 : 2;
    const sink = LineFileSink.standard(fd, { onDrop: (lines) => logger.warn({ target, lines }, `access log: ${target} is not keeping up, lines dropped`) });
    accessLog = createLogger({ level: 'info', destination: sink, streamWrite }).child({ log: 'access' });
  } else {
    const file = path.resolve(baseDir, target);
    const sink = LineFileSink.open(file, { onDrop: (lines) => logger.warn({ file, lines }, 'access log: the disk is not keeping up, lines dropped') });
    accessLog = createLogger({ level: 'info', destination: sink, streamWrite }).child({ log: 'access' });
  }
  return { logger, accessLog };
}
