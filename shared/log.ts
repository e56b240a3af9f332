import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level: LogLevel;
  name: string;
  /** Defaults to stdout; tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    level: options.level,
    name: options.name,
    // ISO time and a string level read better in `kubectl logs` than epoch ms and 30.
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // stdout is written asynchronously: one line per request, and a synchronous write
  // each cost a busy instance some 20 % of its CPU. Lines still leave at once when the
  // previous write is done (several at a time under load), and pino flushes what is
  // left when the process exits, SIGTERM included; only a SIGKILL can lose the last few.
  return pino(settings, options.destination ?? pino.destination({ dest: 1, sync: false }));
}
