/** The formats `clinic-sms export` writes. */
export type ExportFormat = 'csv' | 'jsonl';

/**
 * A spreadsheet would run a cell starting with = + - @ as a formula, and message bodies
 * come from anyone with a phone: such cells get a leading apostrophe, except plain
 * numbers and phone numbers (+13125550100), which are harmless.
 */
function neutralize(value: string): string {
  if (/^[=@\t\r]/.test(value) || (/^[+-]/.test(value) && !/^[+-]?[\d\s().-]*$/.test(value))) {
    return `'${value}`;
  }
  return value;
}

/** One CSV cell: neutralized, quoted when it holds a comma, quote or line break. */
export function csvCell(value: string): string {
  const safe = neutralize(value);
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

