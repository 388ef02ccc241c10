import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { createDb, closeDb } from "../../src/db/client";
import { bookings, bookingSeats } from "../../src/db/schema";
import { advanceBooking, inventoryFor, sagaDeps } from "../../src/services/booking-saga";
import { BOOKING_FAILURES } from "../../src/services/booking-failures";
import { makeUser, testEnv, withDb } from "../helpers/fixtures";
import { bookingRow, makeReservedEventOnSale } from "../helpers/booking-fixtures";

// What buyers and anonymous callers see when something inside breaks: plain words, no internals.

const PLAIN_SENTENCES: string[] = Object.values(BOOKING_FAILURES);
const cardNetwork = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));

async function driveUntilFinished(bookingId: string): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const db = createDb(testEnv);
    try {
      if ((await advanceBooking(sagaDeps(testEnv, db), bookingId)).kind === "finished") return;
    } finally {
      await closeDb(db);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("saga did not finish");
}

describe("a booking's failureReason", () => {
  it("is a plain sentence, not Postgres's error, when Postgres refuses to record the sale", async () => {
    await cardNetwork().setOutage(false);
    const ev = await makeReservedEventOnSale();
    const [buyer, other] = [await makeUser(), await makeUser()];
    const hold = await inventoryFor(testEnv, ev.eventId).hold(buyer.id, { seatIds: ["A-1-1"] }, null);
    if (!hold.ok) throw new Error(hold.message);
    const h = hold.value;
    const row = { eventId: ev.eventId, quantity: 1, seats: h.seats, totalAmountCents: h.totalCents, currency: h.currency, paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000) };
    const booking = await withDb(async (db) => {
      // The seat is already in another active booking in Postgres (drift the object does not know
      // about): the confirm step's insert hits the partial unique index for real (23505).
      const [squatter] = await db.insert(bookings).values({ ...row, userId: other.id, holdId: `hld_${crypto.randomUUID()}`, status: "confirmed" }).returning();
      await db.insert(bookingSeats).values({ bookingId: squatter.id, eventId: ev.eventId, seatId: "A-1-1", priceCents: h.totalCents });
      const [b] = await db.insert(bookings).values({ ...row, userId: buyer.id, holdId: h.id }).returning();
      return b;
    });

    await driveUntilFinished(booking.id);

    const failed = await bookingRow(booking.id);
    expect(failed.status).toBe("failed");
    expect(PLAIN_SENTENCES).toContain(failed.failureReason);
    expect(failed.failureReason).not.toMatch(/postgres|duplicate|constraint|23505|booking_seats|key/i);
    // The sentence promises a refund: the charge really was refunded.
    expect((await cardNetwork().statement(booking.id))[0]).toMatchObject({ status: "succeeded", refundRef: expect.any(String) });
  });
});

describe("readiness", () => {
  it("names Postgres as down without the driver's error text when Postgres is unreachable", async () => {
    const closedPort = { ...env, DATABASE_URL: "postgres://evently_reader@127.0.0.1:1/evently_secret_db" };
    const res = await createApp().request("/health/ready", {}, closedPort);
    expect(res.status).toBe(503);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.error.code).toBe("DEPENDENCY_UNAVAILABLE");
    expect(body.error.details.checks.postgres.ok).toBe(false);
    expect(["unavailable", "did not answer in time"]).toContain(body.error.details.checks.postgres.error);
    expect(text).not.toMatch(/127\.0\.0\.1|evently_reader|evently_secret_db|ECONN|socket|WebSocket|connect /i);
  });

  it("does not name the missing DATABASE_URL to callers", async () => {
    const res = await createApp().request("/health/ready", {}, { ...env, DATABASE_URL: "" });
    expect(res.status).toBe(503);
    expect(await res.text()).not.toMatch(/DATABASE_URL|configured/);
  });
});

describe("a misconfigured signing key", () => {
  it("answers 500 INTERNAL without configuration detail", async () => {
    const user = await makeUser();
    const misconfigured = [{ JWT_SECRET: "short" }, { JWT_PRIVATE_JWK: "{not json" }, { JWT_PRIVATE_JWK: JSON.stringify({ kty: "OKP", crv: "Ed25519", x: "AAAA" }) }];
    for (const keys of misconfigured) {
      const res = await createApp().request("/v1/me", { headers: user.auth }, { ...env, ...keys });
      const text = await res.text();
      expect(res.status, text).toBe(500);
      expect(JSON.parse(text).error).toMatchObject({ code: "INTERNAL", requestId: res.headers.get("x-request-id") });
      expect(text).not.toMatch(/JWT|JWK|secret|misconfigured|kid|alg|key/i);
    }
  });
});
