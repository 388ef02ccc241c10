import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { and, eq, sql } from "drizzle-orm";
import { bookings, events, notifications, payments, waitlistEntries } from "../../src/db/schema";
import { advanceBooking, inventoryFor, sagaDeps } from "../../src/services/booking-saga";
import { runScheduled } from "../../src/jobs/scheduled";
import { failureReason } from "../../src/services/booking-failures";
import { makePublished, makeVenue } from "../helpers/catalogue";
import { call, expectError, makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { bookingRow, makeReservedEventOnSale, type TestEvent } from "../helpers/booking-fixtures";
import { expectInvariants } from "../helpers/invariants";
import { eventually } from "../helpers/wait";
import { inventoryStub } from "../helpers/inventory";
import type { EventInventoryRpc } from "../../durable-objects/inventory/contract";

// Cancelling an event, end to end through the routes, the real queues, the event's object and Postgres.

const cardNetwork = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));
const cancel = (user: TestUser, id: string) => call(`/v1/events/${id}/cancel`, { method: "POST", headers: user.auth });
/** The event as a visitor sees it; with `auth`, past the 5 s edge cache (a fresh answer every time). */
const detail = async (id: string, auth?: Record<string, string>): Promise<any> => (await call(`/v1/events/${id}`, auth ? { headers: auth } : {})).json();

async function holdVia(user: TestUser, eventId: string, body: unknown): Promise<any> {
  const res = await call(`/v1/events/${eventId}/holds`, { method: "POST", headers: { ...user.auth, "idempotency-key": crypto.randomUUID() }, json: body });
  const h: any = await res.json();
  expect(res.status, JSON.stringify(h)).toBe(201);
  return h;
}

const book = (user: TestUser, holdId: string, paymentMethod = "pm_card_ok") => call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId, paymentMethod } });

async function confirmedVia(user: TestUser, eventId: string, body: unknown): Promise<any> {
  const h = await holdVia(user, eventId, body);
  const res = await book(user, h.id);
  expect(res.status).toBe(202);
  const b: any = await res.json();
  await eventually(async () => (await bookingRow(b.id)).status === "confirmed", 20_000, `booking ${b.id} confirmed`);
  return b;
}

/** What POST /v1/bookings writes, on a hold taken in the event's object; no saga message, the test drives it. */
async function pendingBooking(ev: TestEvent, user: TestUser, seatIds: string[]) {
  const hold = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds }, null);
  if (!hold.ok) throw new Error(hold.message);
  const h = hold.value;
  const [b] = await withDb((db) =>
    db.insert(bookings).values({
      userId: user.id, eventId: ev.eventId, holdId: h.id, quantity: h.quantity, seats: h.seats, totalAmountCents: h.totalCents,
      currency: h.currency, paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000),
    }).returning(),
  );
  return b;
}

const noticesOf = (userId: string) => withDb((db) => db.select().from(notifications).where(eq(notifications.userId, userId)));

async function refundedOnce(bookingId: string): Promise<boolean> {
  const st = await cardNetwork().statement(bookingId);
  return st.length === 1 && st[0].status === "succeeded" && st[0].refundRef !== null;
}

describe("the waitlist of a cancelled event", () => {
  it("tells everyone waiting once that the event was cancelled and ends their entries, in the object and in Postgres", async () => {
    const org = await makeUser("organizer");
    const [holder, offered, waiting] = [await makeUser(), await makeUser(), await makeUser()];
    const e = await makePublished(org, (await makeVenue(org, { layout: undefined })).id, { seating: "general", capacity: 1 });
    const inv = inventoryFor(testEnv, e.id);
    const h = await holdVia(holder, e.id, { quantity: 1 });
    const joinVia = async (u: TestUser) => {
      const res = await call(`/v1/events/${e.id}/waitlist`, { method: "POST", headers: u.auth, json: { quantity: 1 } });
      expect(res.status).toBe(201);
    };
    await joinVia(offered);
    await joinVia(waiting);
    // The holder lets go: the first in line is offered the seat, the second keeps waiting.
    expect((await inv.release(h.id, holder.id)).ok).toBe(true);
    const mine = async (u: TestUser): Promise<any> => (await call(`/v1/events/${e.id}/waitlist/me`, { headers: u.auth })).json();
    expect(await mine(offered)).toMatchObject({ status: "offered" });
    expect(await mine(waiting)).toMatchObject({ status: "waiting", position: 1 });

    expect((await cancel(org, e.id)).status).toBe(202);
    // A repeated cancel (the documented retry) tells nobody twice.
    expect((await cancel(org, e.id)).status).toBe(202);
    expect(await mine(offered)).toMatchObject({ status: "cancelled", position: null, offerExpiresAt: null });
    expect(await mine(waiting)).toMatchObject({ status: "cancelled", position: null });
    expect(await inv.stats()).toMatchObject({ held: 0, available: 1 });

    const stub = inventoryStub(e.id);
    await runDurableObjectAlarm(stub);
    const mirrored = await eventually(async () => {
      const rows = await withDb((db) => db.select().from(waitlistEntries).where(eq(waitlistEntries.eventId, e.id)));
      return rows.length === 2 && rows.every((r) => r.status === "cancelled") && rows;
    }, 15_000, "both entries mirrored as cancelled");
    expect(mirrored).toHaveLength(2);
    // The one waiting is told by the waitlist; the one offered seats by the released hold (once each).
    await eventually(async () => (await noticesOf(waiting.id)).some((n) => n.type === "waitlist.event-cancelled"), 15_000, "the waiting user told");
    await eventually(async () => (await noticesOf(offered.id)).some((n) => n.type === "hold.event-cancelled"), 15_000, "the offered user told");
    await runDurableObjectAlarm(stub);
    await new Promise((r) => setTimeout(r, 500));
    const kinds = async (u: TestUser) => (await noticesOf(u.id)).map((n) => n.type).filter((t) => t !== "waitlist.offered").sort();
    expect(await kinds(waiting)).toEqual(["waitlist.event-cancelled"]);
    expect(await kinds(offered)).toEqual(["hold.event-cancelled"]);
    expect((await noticesOf(waiting.id)).find((n) => n.type === "waitlist.event-cancelled")!.payload).toMatchObject({ eventId: e.id, quantity: 1 });
    // Joining again answers that sales are closed.
    const again = await call(`/v1/events/${e.id}/waitlist`, { method: "POST", headers: holder.auth, json: { quantity: 1 } });
    expect(again.status).toBe(409);
  });
});

describe("booking after cancellation", () => {
  it("a booking on a cancelled event answers 409 EVENT_CANCELLED, charges nothing, and the hold it named is released with its holder told", async () => {
    const org = await makeUser("organizer");
    const buyer = await makeUser();
    const e = await makePublished(org, (await makeVenue(org, { layout: undefined })).id, { seating: "general", capacity: 100 });
    const h = await holdVia(buyer, e.id, { quantity: 2 });
    expect((await detail(e.id)).availability).toMatchObject({ held: 2 });

    expect((await cancel(org, e.id)).status).toBe(202);
    const res = await book(buyer, h.id);
    expect(res.status).toBe(409);
    expectError(await res.json(), "EVENT_CANCELLED");
    expect(await withDb((db) => db.select().from(bookings).where(eq(bookings.holdId, h.id)))).toEqual([]);

    const after = await inventoryFor(testEnv, e.id).getHold(h.id);
    expect(after.ok && after.value.status).toBe("released");
    expect(await inventoryFor(testEnv, e.id).stats()).toMatchObject({ held: 0, available: 100 });
    await eventually(async () => (await noticesOf(buyer.id)).find((n) => n.type === "hold.event-cancelled"), 10_000, "holder told");
  });

  it("the saga refunds instead of confirming when the event is cancelled after the charge", async () => {
    const ev = await makeReservedEventOnSale();
    const buyer = await makeUser();
    const b = await pendingBooking(ev, buyer, ["A-1-1"]);
    // The cancellation lands after the card was charged and the seats committed, before Postgres confirms.
    const out = await withDb((db) => {
      const deps = sagaDeps(testEnv, db);
      return advanceBooking({
        ...deps,
        inventory: (id) => {
          const inv = deps.inventory(id);
          return {
            getHold: (h: string) => inv.getHold(h),
            beginConfirm: (h: string, bk: string) => inv.beginConfirm(h, bk),
            release: (h: string, by: string | null) => inv.release(h, by),
            returnSeats: (h: string, bk: string) => inv.returnSeats(h, bk),
            commit: async (h: string, bk: string) => {
              const r = await inv.commit(h, bk);
              await db.update(events).set({ status: "cancelled", cancelledAt: new Date() }).where(eq(events.id, ev.eventId));
              return r;
            },
          } as unknown as EventInventoryRpc;
        },
      }, b.id);
    });
    expect(out).toEqual({ kind: "finished", status: "failed" });
    expect((await bookingRow(b.id)).failureReason).toBe(failureReason("EVENT_CANCELLED"));
    expect(await refundedOnce(b.id)).toBe(true);
    expect((await inventoryFor(testEnv, ev.eventId).snapshot()).seats!.find((s) => s.id === "A-1-1")!.status).toBe("available");
  });

  it("the saga never charges a booking whose event was cancelled before it ran", async () => {
    const ev = await makeReservedEventOnSale();
    const buyer = await makeUser();
    const b = await pendingBooking(ev, buyer, ["A-2-1"]);
    // As if the cancel request's own pass over pending bookings had not reached this one yet.
    await withDb((db) => db.update(events).set({ status: "cancelled", cancelledAt: new Date() }).where(eq(events.id, ev.eventId)));
    expect(await withDb((db) => advanceBooking(sagaDeps(testEnv, db), b.id))).toEqual({ kind: "finished", status: "failed" });
    expect((await bookingRow(b.id)).failureReason).toBe(failureReason("EVENT_CANCELLED"));
    expect(await cardNetwork().statement(b.id)).toEqual([]);
    expect((await inventoryFor(testEnv, ev.eventId).getHold(b.holdId))).toMatchObject({ ok: true, value: { status: "released" } });
  });

  it("the cron refunds a booking that still ended confirmed on a cancelled event", async () => {
    const org = await makeUser("organizer");
    const buyer = await makeUser();
    const e = await makePublished(org, (await makeVenue(org)).id);
    const b = await confirmedVia(buyer, e.id, { seatIds: ["A-3-1", "A-3-2"] });
    // A confirmation that escaped every other guard: the event is cancelled, the booking still confirmed.
    await withDb((db) => db.update(events).set({ status: "cancelled", cancelledAt: new Date() }).where(eq(events.id, e.id)));
    await runScheduled(testEnv, new Date());
    await eventually(async () => (await bookingRow(b.id)).status === "cancelled" && (await refundedOnce(b.id)), 20_000, "refunded by the sweep");
    await eventually(async () => (await detail(e.id)).refunds?.status === "done", 20_000, "job done");
    expect((await detail(e.id)).refunds).toEqual({ done: 1, total: 1, status: "done" });
  });
});

describe("cancelling an event refunds its bookings as a job", () => {
  it("cancelling an event through POST /v1/events/:id/cancel refunds real bookings made through the routes", async () => {
    const org = await makeUser("organizer");
    const e = await makePublished(org, (await makeVenue(org)).id);
    const [u1, u2] = [await makeUser(), await makeUser()];
    const b1 = await confirmedVia(u1, e.id, { seatIds: ["A-1-1"] });
    const b2 = await confirmedVia(u2, e.id, { seatIds: ["A-1-2", "A-1-3"] });

    const res = await cancel(org, e.id);
    expect(res.status).toBe(202);
    expect(((await res.json()) as any).refundsRequested).toBe(2);
    for (const b of [b1, b2]) await eventually(async () => (await bookingRow(b.id)).status === "cancelled" && (await refundedOnce(b.id)), 20_000, `${b.id} refunded`);
    await eventually(async () => (await detail(e.id)).refunds?.status === "done", 20_000, "job done");
    expect((await detail(e.id)).refunds).toEqual({ done: 2, total: 2, status: "done" });
    for (const [u, b] of [[u1, b1], [u2, b2]] as const) {
      const types = (await noticesOf(u.id)).filter((n) => n.payload && (n.payload as any).bookingId === b.id).map((n) => n.type).sort();
      expect(types).toEqual(["booking.cancelled", "booking.confirmed", "booking.refunded"]);
      expect(await withDb((db) => db.select().from(payments).where(and(eq(payments.bookingId, b.id), eq(payments.kind, "refund"))))).toHaveLength(1);
    }
    expect((await inventoryFor(testEnv, e.id).stats()).booked).toBe(0);
    await expectInvariants(e.id, inventoryFor(testEnv, e.id));
  });

  it("a refund job that failed half-way (card network down) resumes and refunds every booking once", async () => {
    const org = await makeUser("organizer");
    const e = await makePublished(org, (await makeVenue(org)).id);
    const buyer = await makeUser();
    const b = await confirmedVia(buyer, e.id, { seatIds: ["A-4-1"] });
    await cardNetwork().setOutage(true);
    try {
      expect((await cancel(org, e.id)).status).toBe(202);
      // The batch got as far as Postgres, then the refund call failed: the message is retried.
      await eventually(async () => (await bookingRow(b.id)).status === "cancelled", 20_000, "cancelled in Postgres");
      await new Promise((r) => setTimeout(r, 1500));
      expect((await detail(e.id)).refunds).toMatchObject({ done: 0, total: 1, status: "running" });
    } finally {
      await cardNetwork().setOutage(false);
    }
    await eventually(() => refundedOnce(b.id), 30_000, "refunded after the outage");
    await eventually(async () => (await detail(e.id)).refunds?.status === "done", 20_000, "job done");
    expect((await detail(e.id)).refunds).toEqual({ done: 1, total: 1, status: "done" });
  });

  it("an event with 100,000 confirmed seats is cancelled at once and every booking ends refunded in batches, progress on the event", async () => {
    const org = await makeUser("organizer");
    const buyer = await makeUser();
    const SEATS = 100_000;
    // Four seats a booking (general admission): 25,000 bookings, each refunded through the payment port.
    const N = SEATS / 4;
    const e = await makePublished(org, (await makeVenue(org, { layout: undefined, capacity: SEATS })).id, { seating: "general", capacity: SEATS, priceCents: 1000 });
    // Seeded straight into Postgres, and each booking's charge into the card network's ledger.
    const ids = await withDb(async (db) => {
      await db.execute(sql`insert into bookings (user_id, event_id, hold_id, status, quantity, total_amount_cents, currency, payment_method, payment_deadline, confirmed_at)
        select ${buyer.id}, ${e.id}, 'hld_' || ${e.id} || '_s' || i, 'confirmed', 4, 4000, 'EUR', 'pm_card_ok', now(), now() from generate_series(1, ${N}) i`);
      await db.update(events).set({ seatsSold: SEATS }).where(eq(events.id, e.id));
      await db.execute(sql`analyze bookings`);
      return ((await db.execute(sql`select id from bookings where event_id = ${e.id}`)).rows as { id: string }[]).map((r) => r.id);
    });
    await runInDurableObject(cardNetwork(), async (_instance, state) => {
      state.storage.transactionSync(() => {
        for (const id of ids) {
          state.storage.sql.exec(
            `INSERT INTO charges (idempotency_key, reference, amount_cents, currency, payment_method, status, provider_ref, settles_at, created_at) VALUES (?, ?, 4000, 'EUR', 'pm_card_ok', 'succeeded', ?, 0, 0)`,
            `booking:${id}:charge`, id, `ch_${id}`,
          );
        }
      });
    });

    const started = Date.now();
    const res = await cancel(org, e.id);
    expect(res.status).toBe(202);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(((await res.json()) as any).refundsRequested).toBe(N);

    const seen: number[] = [];
    // As its organizer: an anonymous answer is edge-cached for 5 s, so a job quicker than that
    // showed no progress between a cached "running 0" and "done" on a fast machine.
    const progress = await eventually(async () => {
      const r = (await detail(e.id, org.auth)).refunds;
      seen.push(r.done);
      return r.status === "done" ? r : null;
    }, 45_000, "all refunded");
    expect(progress).toEqual({ done: N, total: N, status: "done" });
    expect(seen.some((d) => d > 0 && d < N), "progress visible while running").toBe(true);
    const counts = await withDb(async (db) => (await db.execute(sql`select
        (select count(*)::int from bookings where event_id = ${e.id} and status = 'cancelled') as cancelled,
        (select count(*)::int from payments p join bookings b on b.id = p.booking_id where b.event_id = ${e.id} and p.kind = 'refund') as refunds,
        (select seats_sold from events where id = ${e.id}) as sold`)).rows[0]);
    expect(counts).toEqual({ cancelled: N, refunds: N, sold: 0 });
    for (const id of [ids[0], ids[N >> 1], ids[N - 1]]) expect(await refundedOnce(id)).toBe(true);
  }, 75_000);
});

describe("the API contract", () => {
  it("documents EVENT_CANCELLED on POST /v1/bookings and the refunds progress of an event in /openapi.json", async () => {
    const doc = (await (await call("/openapi.json")).json()) as any;
    expect(doc.paths["/v1/bookings"].post.description).toContain("EVENT_CANCELLED");
    const detail = doc.components.schemas.EventDetail;
    expect(detail.properties.refunds.properties.status.enum).toEqual(["running", "done"]);
    expect(Object.keys(detail.properties.refunds.properties).sort()).toEqual(["done", "status", "total"]);
  });
});
