/** RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled; lines end with CRLF. */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const csvLine = (fields: readonly unknown[]) => fields.map(csvField).join(",") + "\r\n";
