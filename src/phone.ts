import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/** E.164 as a JSON Schema pattern (the clinics file's numbers). */
export const E164_PATTERN = '^\\+[1-9]\\d{6,14}$';
const E164 = new RegExp(E164_PATTERN);

/** True for a string already in E.164 form (`+` and 7 to 15 digits). */
export function isE164(value: string): boolean {
  return E164.test(value);
}

/**
 * Turns a phone number in any common notation into E.164, or null when it is not a
 * possible number. Numbers without a country code are read in `defaultRegion`.
 * @param input - e.g. "(555) 123-4567", "+1 555 123 4567", "555.123.4567"
 * @param defaultRegion - ISO 3166 alpha-2, e.g. "US"
 */
export function toE164(input: string, defaultRegion = 'US'): string | null {
  const trimmed = input.trim();
  if (trimmed === '') {
    return null;
  }
  const parsed = parsePhoneNumberFromString(trimmed, defaultRegion.toUpperCase() as CountryCode);
  // isPossible, not isValid: test and demo numbers (555) are possible but not assigned.
  if (!parsed || !parsed.isPossible()) {
    return null;
  }
  return parsed.number;
}

/** Masks a phone number for logs: only the last two digits survive. */
export function maskPhone(value: string | undefined | null): string {
  if (!value) {
    return '';
  }
  const digits = value.replace(/\D/g, '');
  return digits.length <= 2 ? '**' : `***${digits.slice(-2)}`;
}
