import type { Direction, ScanResult, TicketFacts } from "./checkin-desk.logic";

export interface RedeemItem {
  nonce: string;
  direction: Direction;
  /** When an offline scanner scanned; null for an online scan, timed by the desk as it decides. */
  at: number | null;
  facts: TicketFacts;
}

export interface RedeemBatch {
  listId: string;
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
