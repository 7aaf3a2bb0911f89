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
 * @param destination - where lines go (tests pass a capture stream)
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'clinic-sms' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
