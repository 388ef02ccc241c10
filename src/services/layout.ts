import { z } from "zod";
import type { SeatSpec } from "../../durable-objects/inventory/contract";
import { SEAT_LABEL, SEAT_LABEL_HINT, seatIdOf } from "../../durable-objects/inventory/contract";

/** Upper bound per venue: a layout above it is refused with a clear 400, not stored. */
export const MAX_SEATS_PER_VENUE = 100_000;

// Labels end up inside seat ids (`A-3-12`): the inventory object checks those ids by the same rule.
const Label = z.string().regex(SEAT_LABEL, SEAT_LABEL_HINT);
/** Highest price of one seat or ticket, in minor units. */
export const MAX_PRICE_CENTS = 100_000_000;
const PriceCents = z.number().int().min(0).max(MAX_PRICE_CENTS);

export const LayoutSchema = z.object({
  sections: z
    .array(
      z.object({
        name: Label,
        priceCents: PriceCents.optional(),
        rows: z
          .array(z.object({ label: Label, seats: z.number().int().positive(), priceCents: PriceCents.optional() }))
          .min(1)
          .max(1_000),
      }),
    )
    .min(1)
    .max(500),
});
export type Layout = z.infer<typeof LayoutSchema>;

export interface LayoutProblem {
  path: string;
  message: string;
}

/**
 * Rules zod cannot express on its own: labels unique (ignoring case, since `a` and `A` would make
 * seat ids that read the same), and a total within MAX_SEATS_PER_VENUE.
 */
export function layoutProblems(layout: Layout): LayoutProblem[] {
  const problems: LayoutProblem[] = [];
  const sections = new Set<string>();
  let total = 0;
  layout.sections.forEach((s, i) => {
    const key = s.name.toLowerCase();
    if (sections.has(key)) problems.push({ path: `layout.sections.${i}.name`, message: `duplicate section name "${s.name}"` });
    sections.add(key);
    const rows = new Set<string>();
    s.rows.forEach((r, j) => {
      const rowKey = r.label.toLowerCase();
      if (rows.has(rowKey)) problems.push({ path: `layout.sections.${i}.rows.${j}.label`, message: `duplicate row label "${r.label}" in section "${s.name}"` });
      rows.add(rowKey);
      total += r.seats;
    });
  });
  if (total > MAX_SEATS_PER_VENUE) {
    problems.push({ path: "layout", message: `the layout has ${total} seats; at most ${MAX_SEATS_PER_VENUE} are allowed per venue` });
  }
  return problems;
}

export function layoutSeatCount(layout: Layout): number {
  let total = 0;
  for (const s of layout.sections) for (const r of s.rows) total += r.seats;
  return total;
}

/** Every seat of a layout, in layout order. Price: the row's, else the section's, else the event's. */
export function expandSeats(layout: Layout, defaultPriceCents: number): SeatSpec[] {
  const seats: SeatSpec[] = [];
  for (const s of layout.sections) {
    for (const r of s.rows) {
      const priceCents = r.priceCents ?? s.priceCents ?? defaultPriceCents;
      for (let n = 1; n <= r.seats; n++) {
        seats.push({ id: seatIdOf(s.name, r.label, n), section: s.name, row: r.label, number: n, priceCents });
      }
    }
  }
  return seats;
}

/** Lowest and highest seat price of a layout, with the same fallbacks as expandSeats. */
export function priceRange(layout: Layout, defaultPriceCents: number): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const s of layout.sections) {
    for (const r of s.rows) {
      const p = r.priceCents ?? s.priceCents ?? defaultPriceCents;
      min = Math.min(min, p);
      max = Math.max(max, p);
    }
  }
  return min === Infinity ? { min: defaultPriceCents, max: defaultPriceCents } : { min, max };
}

/** A layout of `rows` rows (labelled 1..rows) of `seatsPerRow` seats in one section. */
export function gridLayout(section: string, rows: number, seatsPerRow: number, priceCents?: number): Layout {
  return {
    sections: [{ name: section, rows: Array.from({ length: rows }, (_, i) => ({ label: String(i + 1), seats: seatsPerRow, ...(priceCents === undefined ? {} : { priceCents }) })) }],
  };
}
