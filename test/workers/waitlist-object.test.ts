import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { EventInventory } from "../../durable-objects/inventory/object";
import type { HoldView, InventoryResult, WaitlistEntryView } from "../../durable-objects/inventory/contract";
import { notifications, waitlistEntries } from "../../src/db/schema";
import { call, withDb } from "../helpers/fixtures";
import { eventually } from "../helpers/wait";
import { inventoryStub, makeUsers, publishedEvent, rng } from "../helpers/inventory";

type Stub = DurableObjectStub<EventInventory>;

function value<T>(res: InventoryResult<T>): T {
  if (!res.ok) throw new Error(JSON.stringify(res));
  return res.value;
}

async function pinClock(stub: Stub, at: number) {
  const set = (t: number) =>
    runInDurableObject(stub, (o: EventInventory) => {
      o.now = () => t;
    });
  await set(at);
  return set;
}

const join = async (stub: Stub, userId: string, quantity: number) => value(await stub.joinWaitlist(userId, quantity)).entry;
const entry = async (stub: Stub, userId: string) => value(await stub.waitlistEntry(userId));
const hold = async (stub: Stub, userId: string, req: { seatIds: string[] } | { quantity: number }) => value(await stub.hold(userId, req, null));

/** Every seat-level fact that must hold at any moment: each held seat belongs to exactly one live hold, counters match rows. */
async function checkInvariants(stub: Stub) {
  const stats = await stub.stats();
  await runInDurableObject(stub, (_o: EventInventory, state) => {
    const sql = state.storage.sql;
    const orphan = sql.exec(`SELECT count(*) AS n FROM seats s LEFT JOIN holds h ON h.id = s.hold_id WHERE s.status = 'held' AND (h.id IS NULL OR h.status NOT IN ('active', 'confirming'))`).one().n;
    expect(orphan, "held seats without a live hold").toBe(0);
    const live = sql.exec(`SELECT seats FROM holds WHERE status IN ('active', 'confirming', 'committed')`).toArray();
    const seatIds = live.flatMap((r) => JSON.parse(r.seats as string).map((s: { id: string }) => s.id));
    expect(new Set(seatIds).size, "a seat in two holds").toBe(seatIds.length);
    // The object's counters (derived from seat rows for reserved seating) match the holds.
    const sums = sql.exec(`SELECT COALESCE(SUM(CASE WHEN status IN ('active','confirming') THEN quantity END), 0) AS held, COALESCE(SUM(CASE WHEN status = 'committed' THEN quantity END), 0) AS booked FROM holds`).one();
    expect({ held: stats.held, booked: stats.booked }).toEqual({ held: sums.held, booked: sums.booked });
    const seatRows = sql.exec(`SELECT COALESCE(SUM(status = 'held'), 0) AS held, COALESCE(SUM(status = 'booked'), 0) AS booked FROM seats`).one();
    if (Number(sql.exec(`SELECT count(*) AS n FROM seats`).one().n) > 0) expect({ held: seatRows.held, booked: seatRows.booked }).toEqual({ held: sums.held, booked: sums.booked });
    // Offered entries are a prefix of the queue: no waiting entry arrived before an offered one.
    const firstWaiting = sql.exec(`SELECT MIN(seq) AS s FROM waitlist WHERE status = 'waiting'`).one().s as number | null;
    if (firstWaiting !== null) {
      const later = sql.exec(`SELECT count(*) AS n FROM waitlist WHERE status IN ('offered', 'converted') AND seq > ?`, firstWaiting).one().n;
      expect(later, "someone was served before an earlier waiting entry").toBe(0);
    }
    for (const r of sql.exec(`SELECT w.hold_id, h.user_id AS holder, w.user_id FROM waitlist w JOIN holds h ON h.id = w.hold_id WHERE w.status = 'offered'`)) {
      expect(r.holder).toBe(r.user_id);
    }
  });
}

describe("joining", () => {
  it("queues in arrival order, refuses while the quantity can be held now, and returns the same entry on a second join", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 4 });
    const [x, a, b, c] = await makeUsers(4);
    expect(await ev.stub.joinWaitlist(a.id, 1)).toMatchObject({ ok: false, code: "SEATS_AVAILABLE", details: { available: 4 } });
    await hold(ev.stub, x.id, { quantity: 3 });
    expect(await ev.stub.joinWaitlist(a.id, 1)).toMatchObject({ ok: false, code: "SEATS_AVAILABLE" });
    expect(await join(ev.stub, a.id, 2)).toMatchObject({ status: "waiting", position: 1, quantity: 2, holdId: null });
    expect(await join(ev.stub, b.id, 3)).toMatchObject({ status: "waiting", position: 2 });
    const again = await ev.stub.joinWaitlist(a.id, 5);
    expect(again).toMatchObject({ ok: true, value: { created: false, entry: { position: 1, quantity: 2 } } });
    expect(await ev.stub.joinWaitlist(c.id, 9)).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED" });
    expect(await ev.stub.waitlistEntry(c.id)).toMatchObject({ ok: false, code: "NOT_FOUND" });
    value(await ev.stub.leaveWaitlist(a.id));
    expect(await entry(ev.stub, b.id)).toMatchObject({ position: 1 });
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "left", position: null });
  });
});

describe("offers when seats come back", () => {
  it("gives released reserved seats to the head as a hold of its own, never showing them available", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 4] });
    const [x, a, b, outsider] = await makeUsers(4);
    const xh = await hold(ev.stub, x.id, { seatIds: ["A-1-1", "A-1-2", "A-1-3", "A-1-4"] });
    await join(ev.stub, a.id, 2);
    await join(ev.stub, b.id, 3);
    value(await ev.stub.release(xh.id, x.id));

    const ea = await entry(ev.stub, a.id);
    expect(ea).toMatchObject({ status: "offered", position: null });
    expect(ea.offerExpiresAt).not.toBeNull();
    const offered = value(await ev.stub.getHold(ea.holdId!));
    expect(offered).toMatchObject({ userId: a.id, status: "active", quantity: 2, seats: [{ id: "A-1-1" }, { id: "A-1-2" }], expiresAt: ea.offerExpiresAt });
    // b needs 3 and only 2 are left: b waits and the two seats stay public.
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "waiting", position: 1 });
    const snap = await ev.stub.snapshot();
    expect(snap.seats!.map((s) => s.status)).toEqual(["held", "held", "available", "available"]);
    expect(await ev.stub.hold(outsider.id, { seatIds: ["A-1-1"] }, null)).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE" });
    await checkInvariants(ev.stub);
  });

  it("sends the live seat map a held status for offered seats, never available", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 2] });
    const [x, a] = await makeUsers(2);
    const xh = await hold(ev.stub, x.id, { seatIds: ["A-1-1", "A-1-2"] });
    await join(ev.stub, a.id, 2);
    const res = await call(`/v1/events/${ev.id}/live`, { headers: { upgrade: "websocket" } });
    const ws = res.webSocket!;
    ws.accept();
    const frames: any[] = [];
    ws.addEventListener("message", (e) => {
      frames.push(JSON.parse(e.data as string));
    });
    value(await ev.stub.release(xh.id, x.id));
    await ev.stub.snapshot(); // flushes the pending delta
    const deadline = Date.now() + 5_000;
    while (!frames.some((f) => f.type === "delta") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    ws.close();
    const deltas = frames.filter((f) => f.type === "delta");
    expect(deltas.length).toBeGreaterThan(0);
    for (const d of deltas) {
      expect(d.changes.filter((c: { status: string }) => c.status === "available")).toEqual([]);
      expect(d.availability.available).toBe(0);
    }
  });

  it("serves the queue strictly in order: a head that does not fit holds back everyone behind it", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 3 });
    const [x, y, a, b] = await makeUsers(4);
    const xh = await hold(ev.stub, x.id, { quantity: 1 });
    const yh = await hold(ev.stub, y.id, { quantity: 2 });
    await join(ev.stub, a.id, 3);
    await join(ev.stub, b.id, 1);
    value(await ev.stub.release(xh.id, x.id));
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "waiting", position: 1 });
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "waiting", position: 2 });
    expect(await ev.stub.stats()).toMatchObject({ available: 1 });
    value(await ev.stub.release(yh.id, y.id));
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "offered" });
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "waiting", position: 1 });
    expect(await ev.stub.stats()).toMatchObject({ available: 0, held: 3 });
    await checkInvariants(ev.stub);
  });

  it("offers the free seats to the next in line at once when the head that held everyone back leaves", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 3 });
    const [x, y, a, b, z] = await makeUsers(5);
    const xh = await hold(ev.stub, x.id, { quantity: 1 });
    await hold(ev.stub, y.id, { quantity: 2 });
    await join(ev.stub, a.id, 3);
    await join(ev.stub, b.id, 1);
    value(await ev.stub.release(xh.id, x.id));
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "waiting", position: 2 });

    expect(value(await ev.stub.leaveWaitlist(a.id))).toMatchObject({ status: "left" });
    const eb = await entry(ev.stub, b.id);
    expect(eb).toMatchObject({ status: "offered" });
    expect(value(await ev.stub.getHold(eb.holdId!))).toMatchObject({ userId: b.id, status: "active", quantity: 1 });
    // The freed ticket went to the line, not to whoever asks first.
    expect(await ev.stub.hold(z.id, { quantity: 1 }, null)).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE" });
    expect(await ev.stub.stats()).toMatchObject({ available: 0, held: 3 });
    await checkInvariants(ev.stub);
  });

  it("passes a lapsed offer to the next entry when the alarm expires it, and frees the seats after the last", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 2, holdTtlSeconds: 60, waitlistOfferSeconds: 300 });
    const [x, a, b] = await makeUsers(3);
    const t0 = Date.now();
    const setClock = await pinClock(ev.stub, t0);
    await hold(ev.stub, x.id, { quantity: 2 });
    await join(ev.stub, a.id, 2);
    await join(ev.stub, b.id, 1);

    await setClock(t0 + 60_000);
    await runDurableObjectAlarm(ev.stub);
    const ea = await entry(ev.stub, a.id);
    expect(ea).toMatchObject({ status: "offered", offerExpiresAt: new Date(t0 + 360_000).toISOString() });
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "waiting", position: 1 });

    await setClock(t0 + 359_999);
    await runDurableObjectAlarm(ev.stub);
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "offered" });

    await setClock(t0 + 360_000);
    await runDurableObjectAlarm(ev.stub);
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "expired", holdId: ea.holdId, offerExpiresAt: null });
    expect(value(await ev.stub.getHold(ea.holdId!)).status).toBe("expired");
    const eb = await entry(ev.stub, b.id);
    expect(eb).toMatchObject({ status: "offered", offerExpiresAt: new Date(t0 + 660_000).toISOString() });
    expect(await ev.stub.stats()).toMatchObject({ held: 1, available: 1 });

    await setClock(t0 + 660_000);
    await runDurableObjectAlarm(ev.stub);
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "expired" });
    expect(await ev.stub.stats()).toMatchObject({ held: 0, available: 2 });
    await checkInvariants(ev.stub);
  });

  it("releases the offered hold when its user leaves and offers the seats to the next", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 2] });
    const [x, a, b] = await makeUsers(3);
    const xh = await hold(ev.stub, x.id, { seatIds: ["A-1-1", "A-1-2"] });
    await join(ev.stub, a.id, 2);
    await join(ev.stub, b.id, 2);
    value(await ev.stub.release(xh.id, x.id));
    const ea = await entry(ev.stub, a.id);
    expect(ea.status).toBe("offered");

    expect(value(await ev.stub.leaveWaitlist(a.id))).toMatchObject({ status: "left", holdId: ea.holdId });
    expect(value(await ev.stub.getHold(ea.holdId!)).status).toBe("released");
    const eb = await entry(ev.stub, b.id);
    expect(eb).toMatchObject({ status: "offered" });
    expect(value(await ev.stub.getHold(eb.holdId!))).toMatchObject({ userId: b.id, seats: [{ id: "A-1-1" }, { id: "A-1-2" }] });
    // Leaving again changes nothing.
    expect(value(await ev.stub.leaveWaitlist(a.id))).toMatchObject({ status: "left" });
    await checkInvariants(ev.stub);
  });

  it("treats the offered user releasing the hold themselves as leaving", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 1 });
    const [x, a, b] = await makeUsers(3);
    const xh = await hold(ev.stub, x.id, { quantity: 1 });
    await join(ev.stub, a.id, 1);
    await join(ev.stub, b.id, 1);
    value(await ev.stub.release(xh.id, x.id));
    const ea = await entry(ev.stub, a.id);
    value(await ev.stub.release(ea.holdId!, a.id));
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "left" });
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "offered" });
  });

  it("marks the entry converted when the offered hold is booked, and offers seats of a cancelled booking", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 2 });
    const [x, a, b] = await makeUsers(3);
    const xh = await hold(ev.stub, x.id, { quantity: 2 });
    value(await ev.stub.beginConfirm(xh.id, "bk-x"));
    value(await ev.stub.commit(xh.id, "bk-x"));
    await join(ev.stub, a.id, 2);
    await join(ev.stub, b.id, 2);
    // Cancellation returns the seats: a gets them.
    value(await ev.stub.returnSeats(xh.id, "bk-x"));
    const ea = await entry(ev.stub, a.id);
    expect(ea.status).toBe("offered");
    value(await ev.stub.beginConfirm(ea.holdId!, "bk-a"));
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "offered", offerExpiresAt: ea.offerExpiresAt });
    value(await ev.stub.commit(ea.holdId!, "bk-a"));
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "converted", holdId: ea.holdId });
    expect(await ev.stub.stats()).toMatchObject({ booked: 2, held: 0 });
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "waiting", position: 1 });
  });

  it("gives the seats of a failed payment (saga release) to the next entry", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 1 });
    const [x, a, b] = await makeUsers(3);
    const xh = await hold(ev.stub, x.id, { quantity: 1 });
    await join(ev.stub, a.id, 1);
    await join(ev.stub, b.id, 1);
    value(await ev.stub.release(xh.id, x.id));
    const ea = await entry(ev.stub, a.id);
    value(await ev.stub.beginConfirm(ea.holdId!, "bk-a"));
    value(await ev.stub.release(ea.holdId!, null));
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "expired" });
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "offered" });
  });

  it("applies the per-user cap to offers: a head that bought seats meanwhile ends and the next is served", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 3, maxSeatsPerUser: 2 });
    const [x, y, a, b] = await makeUsers(4);
    const xh = await hold(ev.stub, x.id, { quantity: 1 });
    const yh = await hold(ev.stub, y.id, { quantity: 2 });
    await join(ev.stub, a.id, 2);
    value(await ev.stub.release(xh.id, x.id));
    // One seat is free and a needs two: a takes the single seat publicly.
    await hold(ev.stub, a.id, { quantity: 1 });
    await join(ev.stub, b.id, 2);
    value(await ev.stub.release(yh.id, y.id));
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "expired", holdId: null });
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "offered" });
    await checkInvariants(ev.stub);
  });

  it("makes no offers once sales are closed, and ends the line with them", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 1 });
    const [x, a] = await makeUsers(2);
    const xh = await hold(ev.stub, x.id, { quantity: 1 });
    value(await ev.stub.beginConfirm(xh.id, crypto.randomUUID()));
    await join(ev.stub, a.id, 1);
    value(await ev.stub.closeSales());
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "cancelled", position: null });
    // The booking being paid fails after the close: its seat comes back and nobody is offered it.
    value(await ev.stub.release(xh.id, null));
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "cancelled" });
    expect(await ev.stub.stats()).toMatchObject({ held: 0, available: 1 });
  });
});

describe("offers follow the default ticket type (issue 24 item 4)", () => {
  const defaultType = (over: Record<string, unknown>) => ({
    revision: 1,
    types: [{ id: "tt_default", name: "Standard", priceCents: null, quota: null, quotaPool: null, minPerOrder: 1, maxPerOrder: null, salesStartMs: null, salesEndMs: null, hidden: false, sections: null, ...over }],
    vouchers: [],
  });

  it("charges a waitlist offer the default type's price, as a hold of that type would cost", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 2 });
    const [x, a, buyer] = await makeUsers(3);
    value(await ev.stub.setProducts(defaultType({ priceCents: 7500 })));
    const xh = await hold(ev.stub, x.id, { quantity: 2 });
    expect(xh.totalCents).toBe(15_000);
    await join(ev.stub, a.id, 2);
    value(await ev.stub.release(xh.id, x.id));
    const offered = await entry(ev.stub, a.id);
    expect(offered.status).toBe("offered");
    const offer = value(await ev.stub.getHold(offered.holdId!));
    expect(offer).toMatchObject({ totalCents: 15_000, lines: [{ ticketTypeId: "tt_default", quantity: 2, unitCents: 7500, discountCents: 0 }] });
    // The same seats bought publicly cost the same.
    value(await ev.stub.release(offered.holdId!, a.id));
    expect((await hold(ev.stub, buyer.id, { quantity: 2 })).totalCents).toBe(15_000);
  });

  it("makes no offer while the default type is off sale or hidden, and offers once it is back on sale", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 1 });
    const [x, a] = await makeUsers(2);
    const xh = await hold(ev.stub, x.id, { quantity: 1 });
    await join(ev.stub, a.id, 1);
    value(await ev.stub.setProducts(defaultType({ salesEndMs: Date.now() - 1000 })));
    value(await ev.stub.release(xh.id, x.id));
    expect(await entry(ev.stub, a.id)).toMatchObject({ status: "waiting" });
    expect((await ev.stub.stats()).available).toBe(1);
    // Back on sale: the line gets the free seat before the public does.
    value(await ev.stub.setProducts({ ...defaultType({}), revision: 2 }));
    const offered = await entry(ev.stub, a.id);
    expect(offered.status).toBe("offered");
    // Hidden: a public hold of the type is refused, so is an offer.
    const [b] = await makeUsers(1);
    await join(ev.stub, b.id, 1);
    value(await ev.stub.setProducts({ ...defaultType({ hidden: true }), revision: 3 }));
    value(await ev.stub.release(offered.holdId!, a.id));
    expect(await entry(ev.stub, b.id)).toMatchObject({ status: "waiting" });
    expect((await ev.stub.stats()).available).toBe(1);
    await checkInvariants(ev.stub);
  });

  it("lets a buyer join the waitlist while free seats exist only for other types (the default type off sale or hidden)", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 3 });
    const [a, b, c] = await makeUsers(3);
    value(await ev.stub.setProducts(defaultType({ salesEndMs: Date.now() - 1000 })));
    // Three seats free, none of them for the default type: the line is the only way to wait for one.
    expect((await ev.stub.joinWaitlist(a.id, 1)).ok).toBe(true);
    value(await ev.stub.setProducts({ ...defaultType({ hidden: true }), revision: 2 }));
    expect((await ev.stub.joinWaitlist(b.id, 1)).ok).toBe(true);
    // Back on sale: free seats answer SEATS_AVAILABLE again (hold them instead).
    value(await ev.stub.setProducts({ ...defaultType({}), revision: 3 }));
    expect(await ev.stub.joinWaitlist(c.id, 1)).toMatchObject({ ok: false, code: "SEATS_AVAILABLE" });
    await checkInvariants(ev.stub);
  });
});

describe("under concurrency", () => {
  for (const seed of [1, 2, 3]) {
    it(`keeps arrival order with joins and releases racing (seed ${seed}): no seat offered twice, nobody skipped`, async () => {
      const random = rng(seed);
      const ev = await publishedEvent({ layout: [1, 2, 10] });
      const users = await makeUsers(50);
      const holders = users.slice(0, 20);
      const waiters = users.slice(20);
      const holdsMade = await Promise.all(holders.map((u, i) => hold(ev.stub, u.id, { seatIds: [`A-${1 + Math.floor(i / 10)}-${1 + (i % 10)}`] })));
      // The first ten waiters join before anything comes back; then joins, releases and reads race.
      const early = waiters.slice(0, 10);
      for (const u of early) await join(ev.stub, u.id, 1 + Math.floor(random() * 2));
      const ops: (() => Promise<unknown>)[] = [
        ...waiters.slice(10).map((u) => () => ev.stub.joinWaitlist(u.id, 1 + Math.floor(random() * 2))),
        ...holdsMade.map((h) => () => ev.stub.release(h.id, h.userId)),
        ...Array.from({ length: 10 }, () => () => ev.stub.snapshot()),
      ];
      for (let i = ops.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [ops[i], ops[j]] = [ops[j], ops[i]];
      }
      await Promise.all(ops.map((op) => op()));
      await checkInvariants(ev.stub);

      // The early joiners arrived first, asked for at most 2 seats each, and 20 seats came back:
      // every one of them got an offer, in order, before anyone later.
      for (const u of early) expect((await entry(ev.stub, u.id)).status).toBe("offered");
      const views: WaitlistEntryView[] = [];
      for (const u of waiters) {
        const r = await ev.stub.waitlistEntry(u.id);
        if (r.ok) views.push(r.value);
      }
      const waitingPositions = views.filter((v) => v.status === "waiting").map((v) => v.position).sort((p, q) => p! - q!);
      expect(waitingPositions).toEqual(waitingPositions.map((_, i) => i + 1));
      const offeredHolds = await Promise.all(views.filter((v) => v.status === "offered").map(async (v) => value(await ev.stub.getHold(v.holdId!)) as HoldView));
      const offeredSeats = offeredHolds.flatMap((h) => h.seats.map((s) => s.id));
      expect(new Set(offeredSeats).size).toBe(offeredSeats.length);
      const stats = await ev.stub.stats();
      expect(stats.held).toBe(offeredSeats.length);
      // Whoever still waits could not be served from what is free.
      if (waitingPositions.length > 0) {
        const head = views.find((v) => v.position === 1)!;
        expect(stats.available).toBeLessThan(head.quantity);
      }
    });
  }
});

describe("leaving the object", () => {
  it("mirrors entries to Postgres and notifies the offered user through the outbox, even after a crash before the relay", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 1 });
    const [x, a, b] = await makeUsers(3);
    const xh = await hold(ev.stub, x.id, { quantity: 1 });
    await join(ev.stub, a.id, 1);
    await join(ev.stub, b.id, 1);
    value(await ev.stub.release(xh.id, x.id));
    const ea = await entry(ev.stub, a.id);

    // The object dies after committing the offer and before its alarm relayed anything.
    await abortAllDurableObjects();
    const fresh = inventoryStub(ev.id);
    const pending = await runInDurableObject(fresh, (_o: EventInventory, state) => state.storage.sql.exec(`SELECT kind FROM outbox ORDER BY seq`).toArray().map((r) => r.kind));
    expect(pending).toContain("notify");
    expect(await runDurableObjectAlarm(fresh)).toBe(true);
    await runDurableObjectAlarm(fresh);

    // The mirror travels through the inventory-events queue to its consumer.
    const rows = await eventually(async () => {
      const r = await withDb((db) => db.select().from(waitlistEntries).where(eq(waitlistEntries.eventId, ev.id)));
      return r.length === 2 && r;
    }, 15_000, "two mirrored entries");
    const byUser = new Map(rows.map((r) => [r.userId, r]));
    expect(rows).toHaveLength(2);
    expect(byUser.get(a.id)).toMatchObject({ id: ea.id, status: "offered", holdId: ea.holdId, quantity: 1 });
    expect(byUser.get(a.id)!.offeredAt?.toISOString()).toBe(ea.offeredAt);
    expect(byUser.get(b.id)).toMatchObject({ status: "waiting", holdId: null, offeredAt: null });

    const key = `waitlist.offered:${ea.id}:${ea.holdId}`;
    const deadline = Date.now() + 15_000;
    let stored: (typeof notifications.$inferSelect)[] = [];
    while (stored.length === 0 && Date.now() < deadline) {
      stored = await withDb((db) => db.select().from(notifications).where(eq(notifications.dedupeKey, key)));
      if (stored.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ userId: a.id, type: "waitlist.offered", payload: { holdId: ea.holdId, eventId: ev.id, quantity: 1 } });
    const left = await runInDurableObject(fresh, (_o: EventInventory, state) => state.storage.sql.exec(`SELECT count(*) AS n FROM outbox`).one().n);
    expect(left).toBe(0);

    // A later state replaces the mirrored one (upsert by id).
    value(await fresh.leaveWaitlist(a.id));
    await runDurableObjectAlarm(fresh);
    const after = await eventually(async () => {
      const r = await withDb((db) => db.select().from(waitlistEntries).where(eq(waitlistEntries.id, ea.id)));
      return r[0]?.status === "left" && r;
    }, 15_000, "the left state mirrored");
    expect(after[0]).toMatchObject({ status: "left", holdId: ea.holdId });
    expect(after[0].offeredAt?.toISOString()).toBe(ea.offeredAt);
  });
});

describe("the waitlist during an on-sale (issue 24 item 4)", () => {
  it("is closed while the waiting room is on, and seats that come back (or a place someone leaves) go to the pool the room admits to", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 2 });
    const stub = ev.stub as Stub;
    const [a, b, c, d] = (await makeUsers(4)).map((u) => u.id);
    // Before the on-sale: the event is held out and b, then d, wait for a seat.
    const held = await hold(stub, a, { quantity: 2 });
    expect((await join(stub, b, 1)).status).toBe("waiting");
    expect((await join(stub, d, 1)).status).toBe("waiting");
    expect(await stub.setOnSale(true)).toMatchObject({ ok: true });
    expect(await stub.joinWaitlist(c, 1)).toMatchObject({ ok: false, code: "WAITLIST_CLOSED" });
    // A released hold no longer jumps the room's queue: the seats are free for admitted buyers.
    value(await stub.release(held.id, a));
    expect(await entry(stub, b)).toMatchObject({ status: "waiting" });
    expect((await stub.stats()).available).toBe(2);
    // Nor does the line move up when someone leaves it.
    value(await stub.leaveWaitlist(b));
    expect(await entry(stub, d)).toMatchObject({ status: "waiting", position: 1 });
    expect((await stub.stats()).available).toBe(2);
    await checkInvariants(stub);
  });

  it("offers the seats left free to the people still waiting once the room ends", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 2 });
    const stub = ev.stub as Stub;
    const [a, b] = (await makeUsers(2)).map((u) => u.id);
    const held = await hold(stub, a, { quantity: 2 });
    expect((await join(stub, b, 1)).status).toBe("waiting");
    expect(await stub.setOnSale(true)).toMatchObject({ ok: true });
    value(await stub.release(held.id, a));
    expect(await entry(stub, b)).toMatchObject({ status: "waiting" });
    // The on-sale ends with the seats unsold: the line is open again and its head gets them.
    expect(await stub.setOnSale(false)).toMatchObject({ ok: true });
    expect(await entry(stub, b)).toMatchObject({ status: "offered" });
    await checkInvariants(stub);
  });
});
