/**
 * The little a store needs of a logger (pino's Logger fits). Never pass PHI: phones
 * only through maskPhone, no bodies, no names.
 */
export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything (tests, the CLI when quiet). */
export const SILENT_LOGGER: StoreLogger = {
  info: () => {},
  warn: () => {},
  error: () => {},
};
