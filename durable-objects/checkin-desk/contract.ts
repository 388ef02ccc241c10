/** The contract of the CheckinDesk object (one per event). Imports nothing local. */

export type Direction = "entry" | "exit";
export type ScanResult = "ok" | "already_redeemed" | "invalid" | "cancelled" | "wrong_list";

/** What the Worker learned about a scanned code before asking the desk (signature and Postgres). */
export interface TicketFacts {
  /** Null when the code is not a genuine code of this event (bad signature, junk). */
  ticketId: string | null;
  status: "valid" | "cancelled" | "transferred" | "unknown";
  /** The ticket's type is one the list admits. */
  onList: boolean;
}

export interface RedeemItem {
  nonce: string;
  direction: Direction;
  /** When an offline scanner scanned; null for an online scan, timed by the desk as it decides. */
  at: number | null;
  facts: TicketFacts;
}

export interface RedeemBatch {
  listId: string;
  /**
   * The scanning device (`scanner:<id>`, or `user:<id>` for an organizer scanning with their own
   * account). A nonce is the device's own name for one scan: unique per list and device, so two
   * devices that number their scans the same way never get each other's answers.
   */
  device: string;
  allowReentry: boolean;
  items: RedeemItem[];
}

export interface RedeemOutcome {
  result: ScanResult;
  ticketId: string | null;
  firstRedeemedAt: number | null;
  /** The scan's time as decided (the desk's clock for an online scan). */
  at: number;
  /** True when this call decided the scan; false when the nonce was answered before (a retry or re-upload). */
  fresh: boolean;
}

/** The RPC surface of the CheckinDesk object. */
export interface CheckinDeskRpc {
  redeem(batch: RedeemBatch): Promise<RedeemOutcome[]>;
  voidTicket(ticketId: string): Promise<{ ok: true } | { ok: false; code: "ALREADY_CHECKED_IN"; message: string }>;
}
