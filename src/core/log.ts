// Logging: pino everywhere, one logger built per process and passed in (no global logger).
// The access log is a separate child so it can go to its own destination.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Where lines go; default stdout (fd 1). Written asynchronously: lines queue while a write is in flight, so
   * a busy access log coalesces into large writes and the hot path never blocks on it. */
  destination?: DestinationStream | string | number;
  /** Rewrites each serialized line before it is written (pino's hooks.streamWrite): the access log's formats. */
  streamWrite?: (line: string) => string;
}

export function createLogger(options: LogOptions = {}): Logger {
  const destination =
    typeof options.destination === 'object'
      ? options.destination
      : pino.destination({ dest: options.destination ?? 1, sync: false, mkdir: true });
  return pino(
    {
      level: options.level ?? process.env.SWITCHYARD_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      ...(options.streamWrite ? { hooks: { streamWrite: options.streamWrite } } : {}),
    },
    destination,
  );
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
