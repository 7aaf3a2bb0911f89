import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Keys that may carry PHI. The code never logs them in clear (it logs masked phones and no
 * bodies); this list is the safety net should anyone log a whole object by mistake.
 */
export const REDACTED_PATHS = [
  'from',
  'to',
  'body',
  'phone',
  'firstName',
  'lastName',
  'name',
  'message',
  'media',
  'mediaUrl',
  '*.from',
  '*.to',
  '*.body',
  '*.phone',
  '*.firstName',
  '*.lastName',
  '*.media',
  'req.body',
  'params',
];

/**
 * Creates the JSON logger. `message` is redacted as a key, so log text goes in `msg`.
 * @param level - pino level or 'silent'
 * @param destination - where lines go (tests pass a capture stream); default stdout, asynchronously
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'clinic-sms' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // Without a destination: stdout, written asynchronously. Lines that pile up while a write is
  // in flight go out together, instead of one blocking write per line on the event loop;
  // pino flushes what is left synchronously when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}

/** The logging calls a message's pipeline makes: fields, then the text. */
export interface FieldLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/**
 * A child logger made on first use at an enabled level: a message whose lines are below the
 * configured level costs no child (pino serializes a child's bindings when it is made).
 * @param parent - the logger
 * @param bindings - the child's fields, computed only when a line is written
 */
export function lazyChild(parent: Logger, bindings: () => Record<string, unknown>): FieldLogger {
  let child: Logger | undefined;
  const write = (level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, msg: string): void => {
    if (parent.isLevelEnabled(level)) {
      child ??= parent.child(bindings());
      child[level](fields, msg);
    }
  };
  return {
    info: (fields, msg) => write('info', fields, msg),
    warn: (fields, msg) => write('warn', fields, msg),
    error: (fields, msg) => write('error', fields, msg),
  };
}
