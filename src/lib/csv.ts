/**
 * RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled; lines end with CRLF.
 * Text that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) gets a
 * leading `'` (OWASP "CSV injection"); numbers and dates are written as they are.
 */
export function csvField(v: unknown): string {
  let s = v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const csvLine = (fields: readonly unknown[]) => fields.map(csvField).join(",") + "\r\n";
