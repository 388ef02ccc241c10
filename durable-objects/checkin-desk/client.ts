// The only door to the CheckinDesk Durable Object (one per event): the stub and typed calls.
import type { CheckinDeskRpc, RedeemBatch, RedeemOutcome } from "./contract";
import type { Env } from "../../src/env";
import { AppError } from "../../src/lib/errors";

function deskFor(env: Env, eventId: string): CheckinDeskRpc {
  return env.CHECKIN_DESK.get(env.CHECKIN_DESK.idFromName(eventId)) as unknown as CheckinDeskRpc;
}

export function checkinDesk(env: Env, eventId: string) {
  return {
    redeem: (batch: RedeemBatch): Promise<RedeemOutcome[]> => deskFor(env, eventId).redeem(batch),
    /** Kills a ticket's code at the door before a transfer; refused once the ticket was used to get in. */
    voidTicket: async (ticketId: string): Promise<void> => {
      const r = await deskFor(env, eventId).voidTicket(ticketId);
      if (!r.ok) throw new AppError("INVALID_STATE", r.message, { reason: r.code });
    },
  };
}
