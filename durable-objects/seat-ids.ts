/**
 * The one rule for seat labels and seat ids, shared by the venue layout schema
 * (src/services/layout.ts) and the EventInventory object, so a layout the venue accepts always
 * builds an inventory the object accepts. No `cloudflare:*` imports: used on both sides.
 */

/** A section name or row label: 1-24 letters, digits or `_`. No `-`: it separates the parts of a seat id. */
const LABEL = "[A-Za-z0-9_]{1,24}";
export const SEAT_LABEL = new RegExp(`^${LABEL}$`);
export const SEAT_LABEL_HINT = "use 1-24 letters, digits or _";

/** `section-row-number`, e.g. `A-3-12` (numbers start at 1; a venue has at most 100,000 seats). */
export const SEAT_ID = new RegExp(`^${LABEL}-${LABEL}-[1-9][0-9]{0,5}$`);

export function seatIdOf(section: string, row: string, number: number): string {
  return `${section}-${row}-${number}`;
}

export function isSeatId(id: unknown): id is string {
  return typeof id === "string" && SEAT_ID.test(id);
}
