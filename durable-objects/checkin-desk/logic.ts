// Pure check-in decisions of the CheckinDesk object (one per event): no cloudflare:* imports, so
// the rules are unit-tested in plain Node. The object reads state, calls these, writes the result.
import type { Direction, ScanResult, TicketFacts } from "./contract";

/** A ticket's standing on one list. */
export interface Presence {
  firstAt: number;
  inside: boolean;
  lastAt: number;
}

export interface Scan {
  nonce: string;
  direction: Direction;
  at: number;
}

export interface Decision {
  result: ScanResult;
  firstRedeemedAt?: number;
  /** The presence to write when the scan changed it. */
  next?: Presence;
}

/**
 * One scan against the ticket's current standing on a list.
 * - An entry redeems a ticket once per list; with re-entry allowed, again after an exit.
 * - An offline scan made earlier than the recorded first entry becomes the first (first scan
 *   wins by time); the entries after it stay answered as they were.
 * - Exits are always accepted (people must be able to leave); they only matter for re-entry.
 * - A ticket voided by a transfer answers `invalid`, like a code that was never issued.
 */
export function decideScan(input: { facts: TicketFacts; voided: boolean; presence: Presence | null; scan: Scan; allowReentry: boolean }): Decision {
  const { facts, presence, scan, allowReentry } = input;
  if (!facts.ticketId || facts.status === "unknown" || facts.status === "transferred" || input.voided) return { result: "invalid" };
  if (facts.status === "cancelled") return { result: "cancelled" };
  if (!facts.onList) return { result: "wrong_list" };
  if (scan.direction === "exit") {
    if (!presence || !presence.inside) return { result: "ok", ...(presence ? { firstRedeemedAt: presence.firstAt } : {}) };
    return { result: "ok", firstRedeemedAt: presence.firstAt, next: { ...presence, inside: false, lastAt: Math.max(presence.lastAt, scan.at) } };
  }
  if (!presence) return { result: "ok", firstRedeemedAt: scan.at, next: { firstAt: scan.at, inside: true, lastAt: scan.at } };
  if (scan.at < presence.firstAt) {
    return { result: "ok", firstRedeemedAt: scan.at, next: { ...presence, firstAt: scan.at } };
  }
  if (allowReentry && !presence.inside) {
    return { result: "ok", firstRedeemedAt: presence.firstAt, next: { firstAt: presence.firstAt, inside: true, lastAt: Math.max(presence.lastAt, scan.at) } };
  }
  return { result: "already_redeemed", firstRedeemedAt: presence.firstAt };
}

/** Offline uploads are decided in scan-time order (ties by nonce): the same batch gives the same answers in any upload order. */
export function scanOrder<T extends { scan: Scan }>(items: readonly T[]): number[] {
  return items
    .map((_, i) => i)
    .sort((a, b) => items[a].scan.at - items[b].scan.at || (items[a].scan.nonce < items[b].scan.nonce ? -1 : items[a].scan.nonce > items[b].scan.nonce ? 1 : a - b));
}

/** A transfer may kill a code only while it has never been used to get in. */
export function decideVoid(everEntered: boolean): { ok: true } | { ok: false; code: "ALREADY_CHECKED_IN"; message: string } {
  return everEntered ? { ok: false, code: "ALREADY_CHECKED_IN", message: "The ticket has been checked in; it can no longer be transferred" } : { ok: true };
}
