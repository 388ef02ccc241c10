import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { bookings } from "../../src/db/schema";
import { call, expectError, makeUser, withDb, type TestUser } from "../helpers/fixtures";
import { makeReservedEvent, setEventStart } from "../helpers/booking-fixtures";

async function insertBooking(user: TestUser, eventId: string, status: "pending" | "confirmed" | "failed" | "cancelled", createdAt = new Date()) {
  const [b] = await withDb((db) =>
    db.insert(bookings).values({
      userId: user.id, eventId, holdId: `hld_${eventId}_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`, status, quantity: 1,
      seats: [{ id: "A-1-1", priceCents: 5000 }], totalAmountCents: 5000, currency: "EUR", paymentMethod: "pm_card_ok",
      paymentDeadline: new Date(Date.now() + 600_000), createdAt,
    }).returning(),
  );
  return b;
}

describe("GET /v1/bookings and /v1/bookings/:id", () => {
  it("lists only the caller's bookings, newest first, in keyset pages, filtered by status", async () => {
    const ev = await makeReservedEvent();
    const [me, other] = [await makeUser(), await makeUser()];
    const base = Date.now() - 60_000;
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await insertBooking(me, ev.eventId, i % 2 ? "confirmed" : "failed", new Date(base + i * 1000)));
    await insertBooking(other, ev.eventId, "confirmed");
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(`/v1/bookings?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { headers: me.auth });
      expect(res.status).toBe(200);
      const body: any = await res.json();
      ids.push(...body.data.map((b: any) => b.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(ids).toEqual(mine.map((b) => b.id).reverse());
    const confirmed: any = await (await call("/v1/bookings?status=confirmed", { headers: me.auth })).json();
    expect(confirmed.data.map((b: any) => b.status)).toEqual(["confirmed", "confirmed"]);
  });

  it("pages through bookings whose times tie or differ only in microseconds, never skipping or repeating one", async () => {
    const ev = await makeReservedEvent();
    const me = await makeUser();
    // Postgres keeps microseconds; a JavaScript Date would see all five in one millisecond.
    const times = ["2026-03-01T10:00:00.000001Z", "2026-03-01T10:00:00.000001Z", "2026-03-01T10:00:00.000002Z", "2026-03-01T10:00:00.000999Z", "2026-03-01T10:00:00.000002Z"];
    const made: { id: string; at: string }[] = [];
    for (const at of times) {
      const b = await insertBooking(me, ev.eventId, "confirmed");
      await withDb((db) => db.execute(sql`update bookings set created_at = ${at}::timestamptz where id = ${b.id}`));
      made.push({ id: b.id, at });
    }
    const newestFirst = [...made].sort((a, b) => (a.at === b.at ? b.id.localeCompare(a.id) : b.at.localeCompare(a.at))).map((m) => m.id);
    for (const limit of [1, 2, 3]) {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const body: any = await (await call(`/v1/bookings?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, { headers: me.auth })).json();
        ids.push(...body.data.map((b: any) => b.id));
        cursor = body.nextCursor;
      } while (cursor);
      expect(ids, `pages of ${limit}`).toEqual(newestFirst);
    }
  });

  it("refuses a cursor issued by another listing", async () => {
    const [u, org] = [await makeUser(), await makeUser("organizer")];
    const city = `Cursor-${crypto.randomUUID()}`;
    for (let i = 0; i < 2; i++) await call("/v1/venues", { method: "POST", headers: org.auth, json: { name: "V", city, address: "x", timezone: "Europe/Oslo", capacity: 10 } });
    const { nextCursor }: any = await (await call(`/v1/venues?city=${city}&limit=1`)).json();
    expect(nextCursor).toEqual(expect.any(String));
    const res = await call(`/v1/bookings?cursor=${nextCursor}`, { headers: u.auth });
    expect(res.status).toBe(400);
    expectError(await res.json(), "VALIDATION_FAILED");
  });

  it("shows a booking to its owner and an admin, and answers 404 to anyone else", async () => {
    const ev = await makeReservedEvent();
    const [owner, stranger, admin] = [await makeUser(), await makeUser(), await makeUser("admin")];
    const b = await insertBooking(owner, ev.eventId, "confirmed");
    const mine = await call(`/v1/bookings/${b.id}`, { headers: owner.auth });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ id: b.id, status: "confirmed", seats: [{ id: "A-1-1", priceCents: 5000 }], totalCents: 5000, currency: "EUR" });
    expect((await call(`/v1/bookings/${b.id}`, { headers: admin.auth })).status).toBe(200);
    const theirs = await call(`/v1/bookings/${b.id}`, { headers: stranger.auth });
    expect(theirs.status).toBe(404);
    expectError(await theirs.json(), "NOT_FOUND");
  });

  it("answers 401 without a token", async () => {
    expect((await call("/v1/bookings")).status).toBe(401);
    expect((await call("/v1/bookings", { method: "POST", json: { holdId: "x" } })).status).toBe(401);
  });
});

describe("POST /v1/bookings input", () => {
  it("answers 404 for a hold id that names no hold and 400 for an unknown payment method", async () => {
    const u = await makeUser();
    const res = await call("/v1/bookings", { method: "POST", headers: u.auth, json: { holdId: "hld_nope" } });
    expect(res.status).toBe(404);
    expectError(await res.json(), "NOT_FOUND");
    const bad = await call("/v1/bookings", { method: "POST", headers: u.auth, json: { holdId: "hld_nope", paymentMethod: "pm_bitcoin" } });
    expect(bad.status).toBe(400);
    expectError(await bad.json(), "VALIDATION_FAILED");
  });

  it("rate-limits bookings per user with 429 and Retry-After", async () => {
    // The local limiter counts in fixed 10 s windows aligned to the clock: the 12 requests must land
    // in one window, so start away from its edge, send the allowance at once, and start again with a
    // new user if a loaded machine still let the window turn.
    const book = (u: { auth: Record<string, string> }) => call("/v1/bookings", { method: "POST", headers: u.auth, json: { holdId: "hld_nope" } });
    let statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let attempt = 1; ; attempt++) {
      const u = await makeUser();
      const left = 10_000 - (Date.now() % 10_000);
      if (left < 5_000) await new Promise((r) => setTimeout(r, left + 50));
      const windowEnds = Date.now() + (10_000 - (Date.now() % 10_000));
      statuses = (await Promise.all(Array.from({ length: 10 }, () => book(u)))).map((r) => r.status);
      const over = [await book(u), await book(u)];
      statuses.push(...over.map((r) => r.status));
      retryAfter = over[1].headers.get("retry-after");
      if (Date.now() < windowEnds - 200 || attempt === 3) break;
    }
    expect(statuses.slice(0, 10).every((s) => s === 404)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    expect(retryAfter).toBe("10");
    const other = await makeUser();
    expect((await book(other)).status).toBe(404);
  });
});

describe("POST /v1/bookings/:id/cancel refusals", () => {
  it("refuses a pending or failed booking with 409 and someone else's with 404", async () => {
    const ev = await makeReservedEvent();
    const [owner, stranger] = [await makeUser(), await makeUser()];
    for (const status of ["pending", "failed"] as const) {
      const b = await insertBooking(owner, ev.eventId, status);
      const res = await call(`/v1/bookings/${b.id}/cancel`, { method: "POST", headers: owner.auth });
      expect(res.status).toBe(409);
      expectError(await res.json(), "INVALID_STATE");
    }
    const b = await insertBooking(owner, ev.eventId, "confirmed");
    expect((await call(`/v1/bookings/${b.id}/cancel`, { method: "POST", headers: stranger.auth })).status).toBe(404);
  });

  it("refuses a cancellation once the event has started, with the time it closed", async () => {
    const ev = await makeReservedEvent();
    const owner = await makeUser();
    const b = await insertBooking(owner, ev.eventId, "confirmed");
    await setEventStart(ev.eventId, new Date(Date.now() - 60_000));
    const res = await call(`/v1/bookings/${b.id}/cancel`, { method: "POST", headers: owner.auth });
    expect(res.status).toBe(409);
    const body: any = await res.json();
    expectError(body, "CANCELLATION_CLOSED");
    expect(Date.parse(body.error.details.closedAt)).toBeLessThan(Date.now());
  });
});
