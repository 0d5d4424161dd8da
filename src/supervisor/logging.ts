// The process's two loggers: operational logs on stdout, and the access log wherever `log.access_log` says,
// in `log.access_log_format` (the format rides on the access logger: see src/core/access-formats.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { LineFileSink, accessLineRewriter, createLogger, silentLogger, type Logger } from '../core/index.ts';

export interface Loggers {
  logger: Logger;
  accessLog: Logger;
}

export function createLoggers(config: Config, baseDir: string): Loggers {
  const logger = createLogger({ level: config.log.level, destination: operationalDestination() });
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

/**
 * Operational lines on a stdout that is a pipe go through a non-blocking sink of their own, as the access
 * log does: pino's stream writes a blocking stdout from the thread pool, and with a reader that stopped
 * reading (a stalled log collector) such a write never returns — Node's exit waits for it, so neither the
 * primary nor a worker could exit after SIGTERM. Lines go out at the next timer turn (flushMs 0); a full
 * pipe holds them (bounded, as the access log's), and at exit they are waited for at most half a second.
 * Elsewhere (a file, a terminal) pino's stream stays. The sink is handed over without its flush(): pino's
 * flush() would wait on the pipe with the event loop kept alive, and the exit handler writes what is left.
 */
function operationalDestination(): { write(line: string): boolean } | undefined {
  if (!fs.fstatSync(1).isFIFO()) return undefined;
  const sink = LineFileSink.standard(1, { flushMs: 0 });
  if (!sink.nonBlocking) {
    sink.close();
    return undefined;
  }
  return { write: (line) => sink.write(line) };
}
