import { runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { EventInventory } from "../../durable-objects/inventory/object";
import { bookings, productRevisions, ticketTypes } from "../../src/db/schema";
import { runScheduled, STAGES } from "../../src/jobs/scheduled";
import { call, expectError, makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { inventoryStub } from "../helpers/inventory";
import { DAY, makeEvent, makePublished, makeVenue, publish } from "../helpers/catalogue";

let organizer: TestUser;
let other: TestUser;
let buyer: TestUser;
let venue: any;

beforeAll(async () => {
  [organizer, other, buyer] = await Promise.all([makeUser("organizer"), makeUser("organizer"), makeUser()]);
  venue = await makeVenue(organizer);
});

async function post(user: TestUser | null, path: string, json: unknown) {
  const res = await call(path, { method: "POST", headers: user?.auth ?? {}, json });
  return { status: res.status, body: (await res.json()) as any };
}
async function get(user: TestUser | null, path: string) {
  const res = await call(path, { headers: user?.auth ?? {} });
  return { status: res.status, body: (await res.json()) as any };
}
async function patch(user: TestUser, path: string, json: unknown) {
  const res = await call(path, { method: "PATCH", headers: user.auth, json });
  return { status: res.status, body: (await res.json()) as any };
}

const gaEvent = (over: Record<string, unknown> = {}) => makeEvent(organizer, venue.id, { seating: "general", capacity: 200, priceCents: 4500, maxSeatsPerUser: 10, ...over });
const typeOf = (list: any[], id: string) => list.find((t) => t.id === id);

describe("ticket types and vouchers through the API", () => {
  it("sets up the on-sale example on a draft, and a buyer buys each kind after publishing", async () => {
    const e = await gaEvent();
    const until = new Date(Date.now() + 7 * DAY).toISOString();
    const early = await post(organizer, `/v1/events/${e.id}/ticket-types`, { name: "Early bird", priceCents: 3000, quota: 100, salesEndAt: until, maxPerOrder: 4 });
    expect(early.status, JSON.stringify(early.body)).toBe(201);
    expect(early.body).toMatchObject({ id: expect.stringMatching(/^tt_/), name: "Early bird", priceCents: 3000, quota: 100, salesEndAt: new Date(until).toISOString(), hidden: false });
    const regular = await patch(organizer, `/v1/events/${e.id}/ticket-types/tt_default`, { name: "Regular", salesStartAt: until });
    expect(regular.status, JSON.stringify(regular.body)).toBe(200);
    expect(regular.body).toMatchObject({ id: "tt_default", name: "Regular", priceCents: null, isDefault: true });
    const press = await post(organizer, `/v1/events/${e.id}/ticket-types`, { name: "Press", priceCents: 0, hidden: true, maxPerOrder: 2 });
    expect(press.status).toBe(201);
    const tenOff = await post(organizer, `/v1/events/${e.id}/vouchers`, { code: "tenoff", discount: { kind: "percent", value: 10 }, maxUsages: 50 });
    expect(tenOff.status, JSON.stringify(tenOff.body)).toBe(201);
    expect(tenOff.body.data).toEqual([expect.objectContaining({ code: "TENOFF", maxUsages: 50, usages: 0, discount: { kind: "percent", value: 10 } })]);
    const pressCode = await post(organizer, `/v1/events/${e.id}/vouchers`, { code: "PRESS-2026", discount: { kind: "price", value: 0 }, maxUsages: 5, ticketTypeIds: [press.body.id], unlocksHidden: true });
    expect(pressCode.status).toBe(201);
    expect((await publish(organizer, e.id)).status).toBe(200);

    // Anyone sees the public types; the press type only with its code (or as the organizer).
    const publicList = await get(null, `/v1/events/${e.id}/ticket-types`);
    expect(publicList.body.data.map((t: any) => t.id)).toEqual(["tt_default", early.body.id]);
    expect((await get(null, `/v1/events/${e.id}/ticket-types?voucher=press-2026`)).body.data.map((t: any) => t.id)).toContain(press.body.id);
    expect((await get(organizer, `/v1/events/${e.id}/ticket-types`)).body.data).toHaveLength(3);

    const holds = `/v1/events/${e.id}/holds`;
    const a = await post(buyer, holds, { items: [{ ticketTypeId: early.body.id, quantity: 2 }], voucher: "TenOff" });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(a.body).toMatchObject({ quantity: 2, totalCents: 5400, lines: [{ ticketTypeId: early.body.id, quantity: 2, unitCents: 3000, discountCents: 600 }], voucherId: tenOff.body.data[0].id });
    const closed = await post(buyer, holds, { quantity: 1 });
    expect(closed.status).toBe(409);
    expectError(closed.body, "SALES_CLOSED");
    const hidden = await post(buyer, holds, { items: [{ ticketTypeId: press.body.id, quantity: 1 }] });
    expect(hidden.status).toBe(400);
    const p = await post(buyer, holds, { items: [{ ticketTypeId: press.body.id, quantity: 1 }], voucher: "PRESS-2026" });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    expect(p.body).toMatchObject({ totalCents: 0, lines: [{ ticketTypeId: press.body.id, unitCents: 0, discountCents: 0 }] });
    const bad = await post(buyer, holds, { items: [{ ticketTypeId: early.body.id, quantity: 1 }], voucher: "NOPE" });
    expect(bad.status).toBe(422);
    expectError(bad.body, "VOUCHER_INVALID");
    const tooMany = await post(buyer, holds, { items: [{ ticketTypeId: early.body.id, quantity: 5 }] });
    expect(tooMany.status).toBe(422);
    expectError(tooMany.body, "LIMIT_EXCEEDED");

    const after = await get(null, `/v1/events/${e.id}/ticket-types`);
    expect(typeOf(after.body.data, early.body.id)).toMatchObject({ sold: 2, available: 98 });
    const vs = await get(organizer, `/v1/events/${e.id}/vouchers`);
    expect(vs.body.data.map((v: any) => [v.code, v.usages])).toEqual([["TENOFF", 1], ["PRESS-2026", 1]]);

    // The booking carries the lines and pays the discounted total.
    const booking = await post(buyer, "/v1/bookings", { holdId: a.body.id });
    expect(booking.status, JSON.stringify(booking.body)).toBe(202);
    expect(booking.body).toMatchObject({ totalCents: 5400, lines: a.body.lines, voucherId: tenOff.body.data[0].id });
  });

  it("fixes price and sections once sold, keeps the quota above what is sold, and deletes only unsold types", async () => {
    const e = await makePublished(organizer, venue.id, { seating: "general", capacity: 50, priceCents: 4500 });
    const t = (await post(organizer, `/v1/events/${e.id}/ticket-types`, { name: "Student", priceCents: 2000, quota: 10 })).body;
    const spare = (await post(organizer, `/v1/events/${e.id}/ticket-types`, { name: "Spare", priceCents: 1000 })).body;
    expect((await post(buyer, `/v1/events/${e.id}/holds`, { items: [{ ticketTypeId: t.id, quantity: 3 }] })).status).toBe(201);
    const path = `/v1/events/${e.id}/ticket-types/${t.id}`;
    expectError((await patch(organizer, path, { priceCents: 2500 })).body, "TICKET_TYPE_SOLD");
    expectError((await patch(organizer, path, { quota: 2 })).body, "TICKET_TYPE_SOLD");
    expect((await patch(organizer, path, { quota: 3, name: "Students" })).body).toMatchObject({ quota: 3, name: "Students" });
    expectError((await post(buyer, `/v1/events/${e.id}/holds`, { items: [{ ticketTypeId: t.id, quantity: 1 }] })).body, "QUOTA_EXHAUSTED");
    const del = await call(path, { method: "DELETE", headers: organizer.auth });
    expect(del.status).toBe(409);
    expectError(await del.json(), "TICKET_TYPE_SOLD");
    expect((await call(`/v1/events/${e.id}/ticket-types/${spare.id}`, { method: "DELETE", headers: organizer.auth })).status).toBe(204);
    expect((await post(buyer, `/v1/events/${e.id}/holds`, { items: [{ ticketTypeId: spare.id, quantity: 1 }] })).status).toBe(400);
    expect((await call(`/v1/events/${e.id}/ticket-types/tt_default`, { method: "DELETE", headers: organizer.auth })).status).toBe(409);
  });

  it("refuses other organizers, buyers and malformed bodies, and never lists vouchers to the public", async () => {
    const e = await gaEvent();
    const path = `/v1/events/${e.id}/ticket-types`;
    expect((await post(other, path, { name: "X", priceCents: 1 })).status).toBe(404); // a draft is not probed
    expect((await post(buyer, path, { name: "X", priceCents: 1 })).status).toBe(403);
    expect((await post(organizer, path, { name: "X", priceCents: -1 })).status).toBe(400);
    expect((await post(organizer, path, { name: "X", priceCents: 1, sections: ["A"] })).status).toBe(400);
    expect((await post(organizer, path, { name: "X", priceCents: 1, minPerOrder: 3, maxPerOrder: 2 })).status).toBe(400);
    expect((await post(organizer, path, { name: "X", priceCents: 1, role: "admin" })).status).toBe(400);
    const vouchers = `/v1/events/${e.id}/vouchers`;
    expect((await post(organizer, vouchers, { discount: { kind: "percent", value: 10 }, maxUsages: 1 })).status).toBe(400);
    expect((await post(organizer, vouchers, { code: "ABC", count: 2, discount: { kind: "percent", value: 10 }, maxUsages: 1 })).status).toBe(400);
    expect((await post(organizer, vouchers, { code: "ABC", discount: { kind: "percent", value: 101 }, maxUsages: 1 })).status).toBe(400);
    expect((await post(organizer, vouchers, { code: "ABC", discount: { kind: "fixed", value: 100 }, maxUsages: 1, ticketTypeIds: ["tt_nope"] })).status).toBe(400);
    expect((await post(organizer, vouchers, { code: "ABC", discount: { kind: "fixed", value: 100 }, maxUsages: 1 })).status).toBe(201);
    expectError((await post(organizer, vouchers, { code: "abc", discount: { kind: "fixed", value: 100 }, maxUsages: 1 })).body, "CONFLICT");
    const generated = await post(organizer, vouchers, { count: 25, discount: { kind: "fixed", value: 500 }, maxUsages: 1 });
    expect(generated.status).toBe(201);
    expect(new Set(generated.body.data.map((v: any) => v.code)).size).toBe(25);
    expect((await get(buyer, vouchers)).status).toBe(403);
    expect((await get(null, vouchers)).status).toBe(401);
    expect((await get(null, path)).status).toBe(404); // a draft's types are the organizer's business
  });

  it("sells reserved seats by type only in the type's rows, over HTTP and over the live socket", async () => {
    const e = await makePublished(organizer, venue.id, { seating: "reserved", priceCents: 4000 });
    const child = (await post(organizer, `/v1/events/${e.id}/ticket-types`, { name: "Child", priceCents: 1500, sections: ["A-10"] })).body;
    expect(child.id).toMatch(/^tt_/);
    await post(organizer, `/v1/events/${e.id}/vouchers`, { code: "KIDS", discount: { kind: "fixed", value: 500 }, maxUsages: 1, ticketTypeIds: [child.id] });
    const wrongRow = await post(buyer, `/v1/events/${e.id}/holds`, { seats: [{ id: "A-1-1", ticketTypeId: child.id }] });
    expect(wrongRow.status).toBe(400);
    expect(wrongRow.body.error.details).toMatchObject({ seatIds: ["A-1-1"] });
    const h = await post(buyer, `/v1/events/${e.id}/holds`, { seats: [{ id: "A-10-1", ticketTypeId: child.id }, { id: "A-1-1", ticketTypeId: "tt_default" }] });
    expect(h.status, JSON.stringify(h.body)).toBe(201);
    // Row 1 costs 5000 in the venue's layout: the default type follows the seat's price.
    expect(h.body.seats).toEqual([{ id: "A-10-1", priceCents: 1500 }, { id: "A-1-1", priceCents: 5000 }]);

    const res = await call(`/v1/events/${e.id}/live`, { headers: { upgrade: "websocket" } });
    const ws = res.webSocket!;
    ws.accept();
    const frames: any[] = [];
    ws.addEventListener("message", (m) => {
      frames.push(JSON.parse(m.data as string));
    });
    const ask = async (frame: any) => {
      ws.send(JSON.stringify(frame));
      for (let i = 0; i < 500; i++) {
        const f = frames.find((x) => (x.type === "reply" && x.ref === frame.ref) || (frame.type === "auth" && x.type === "auth"));
        if (f) return f;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`no reply to ${JSON.stringify(frame)}`);
    };
    expect(await ask({ type: "auth", token: buyer.token })).toMatchObject({ ok: true });
    const viaSocket = await ask({ type: "hold", ref: "p-1", seats: [{ id: "A-10-2", ticketTypeId: child.id }], voucher: "kids" });
    expect(viaSocket).toMatchObject({ ok: true, hold: { totalCents: 1000, lines: [{ ticketTypeId: child.id, seatId: "A-10-2", unitCents: 1500, discountCents: 500 }] } });
    const exhausted = await ask({ type: "hold", ref: "p-2", seats: [{ id: "A-10-3", ticketTypeId: child.id }], voucher: "KIDS" });
    expect(exhausted).toMatchObject({ ok: false, error: { code: "VOUCHER_EXHAUSTED" } });
    ws.close(1000);
  });

  it("documents the routes, the hold body's new fields and the lines in the OpenAPI document", async () => {
    const doc: any = await (await call("/openapi.json")).json();
    expect(Object.keys(doc.paths["/v1/events/{id}/ticket-types"])).toEqual(expect.arrayContaining(["get", "post"]));
    expect(Object.keys(doc.paths["/v1/events/{id}/ticket-types/{typeId}"])).toEqual(expect.arrayContaining(["patch", "delete"]));
    expect(Object.keys(doc.paths["/v1/events/{id}/vouchers"])).toEqual(expect.arrayContaining(["get", "post"]));
    expect(Object.keys(doc.components.schemas.HoldRequest.properties)).toEqual(expect.arrayContaining(["seatIds", "quantity", "seats", "items", "voucher"]));
    expect(doc.components.schemas.Hold.properties.lines.items.$ref).toBe("#/components/schemas/HoldLine");
    expect(doc.components.schemas.Booking.properties).toHaveProperty("lines");
  });

  it("reports per-type sold, revenue and quota use, and voucher redemptions, from confirmed bookings only", async () => {
    const e = await makePublished(organizer, venue.id, { seating: "general", capacity: 100, priceCents: 4500 });
    const early = (await post(organizer, `/v1/events/${e.id}/ticket-types`, { name: "Early bird", priceCents: 3000, quota: 10 })).body;
    const code = (await post(organizer, `/v1/events/${e.id}/vouchers`, { code: "TENOFF", discount: { kind: "percent", value: 10 }, maxUsages: 5 })).body.data[0];
    const booking = (status: "confirmed" | "pending", quantity: number, total: number, lines: unknown[], voucherId: string | null = null) => ({
      userId: buyer.id, eventId: e.id, holdId: `hld_${crypto.randomUUID()}`, status, quantity, totalAmountCents: total, currency: "EUR",
      paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000), lines: lines as any, voucherId,
    });
    await withDb((db) =>
      db.insert(bookings).values([
        booking("confirmed", 2, 5400, [{ ticketTypeId: early.id, quantity: 2, unitCents: 3000, discountCents: 600 }], code.id),
        booking("confirmed", 3, 12_000, [{ ticketTypeId: early.id, quantity: 1, unitCents: 3000, discountCents: 0 }, { ticketTypeId: "tt_default", quantity: 2, unitCents: 4500, discountCents: 0 }]),
        booking("confirmed", 1, 4500, []), // made before ticket types: the default type at its total
        booking("pending", 4, 12_000, [{ ticketTypeId: early.id, quantity: 4, unitCents: 3000, discountCents: 0 }], code.id),
      ]),
    );
    const stats = await get(organizer, `/v1/admin/analytics/events/${e.id}`);
    expect(stats.status, JSON.stringify(stats.body)).toBe(200);
    expect(stats.body.ticketTypes).toEqual([
      { ticketTypeId: "tt_default", name: "Standard", sold: 3, revenueCents: 13_500, discountCents: 0, quota: null, quotaUse: null },
      { ticketTypeId: early.id, name: "Early bird", sold: 3, revenueCents: 8400, discountCents: 600, quota: 10, quotaUse: 0.3 },
    ]);
    expect(stats.body.vouchers).toEqual([{ voucherId: code.id, code: "TENOFF", redemptions: 1, maxUsages: 5, discountCents: 600 }]);
  });
});

/**
 * The event's object refuses every product push as an unreachable object would (the request and
 * the queue's retries meet the same failure) until `objectBack`.
 */
async function failPushes(eventId: string): Promise<void> {
  await runInDurableObject(inventoryStub(eventId), (o: EventInventory) => {
    o.engine.setProducts = () => {
      throw new Error("the inventory object is unreachable (test fault)");
    };
  });
}

async function objectBack(eventId: string): Promise<void> {
  await runInDurableObject(inventoryStub(eventId), (o: EventInventory) => {
    delete (o.engine as { setProducts?: unknown }).setProducts;
  });
}

/** The cron's products stage, on its own (what the cron does every five minutes). */
async function cronPushesProducts(): Promise<void> {
  const result = await runScheduled(testEnv, new Date(), { products: STAGES.products });
  expect(result.products, JSON.stringify(result)).toMatchObject({ ok: true });
}

const objectTypes = async (eventId: string) => {
  const stats = await inventoryStub(eventId).productStats();
  if (!stats.ok) throw new Error(JSON.stringify(stats));
  return stats.value;
};

describe("a change whose push to the event's object fails (issue 24, item 11)", () => {
  it("an early bird created while the object is unreachable exists once: the retry with the same Idempotency-Key answers the first type, and the object sells it later", async () => {
    const e = await makePublished(organizer, venue.id, { seating: "general", capacity: 500, priceCents: 4500 });
    await failPushes(e.id);
    const path = `/v1/events/${e.id}/ticket-types`;
    const body = { name: "Early bird", priceCents: 3000, quota: 100 };
    const headers = { ...organizer.auth, "idempotency-key": "early-bird-1" };
    const first = await call(path, { method: "POST", headers, json: body });
    const firstBody: any = await first.json();
    expect(first.status, JSON.stringify(firstBody)).toBe(201);
    expect(firstBody).toMatchObject({ name: "Early bird", quota: 100, inventoryPending: true });
    const retry = await call(path, { method: "POST", headers, json: body });
    expect(retry.status).toBe(201);
    expect(((await retry.json()) as any).id).toBe(firstBody.id);

    // One type with one quota of 100 (before: a second type, and 200 early birds on sale).
    const listed = (await get(organizer, path)).body.data.filter((t: any) => t.name === "Early bird");
    expect(listed.map((t: any) => t.id)).toEqual([firstBody.id]);
    await objectBack(e.id);
    await cronPushesProducts();
    expect((await objectTypes(e.id)).types.filter((t) => t.ticketTypeId !== "tt_default").map((t) => [t.ticketTypeId, t.quota])).toEqual([[firstBody.id, 100]]);
    const hold = await post(buyer, `/v1/events/${e.id}/holds`, { items: [{ ticketTypeId: firstBody.id, quantity: 2 }] });
    expect(hold.status, JSON.stringify(hold.body)).toBe(201);
  });

  it("vouchers generated by count while the object is unreachable are made once: the retry answers the same codes", async () => {
    const e = await makePublished(organizer, venue.id, { seating: "general", capacity: 100, priceCents: 4500 });
    await failPushes(e.id);
    const path = `/v1/events/${e.id}/vouchers`;
    const body = { count: 5, discount: { kind: "percent", value: 50 }, maxUsages: 1 };
    const headers = { ...organizer.auth, "idempotency-key": "codes-1" };
    const first = await call(path, { method: "POST", headers, json: body });
    const firstBody: any = await first.json();
    expect(first.status, JSON.stringify(firstBody)).toBe(201);
    expect(firstBody.inventoryPending).toBe(true);
    const retry: any = await (await call(path, { method: "POST", headers, json: body })).json();
    const codes = firstBody.data.map((v: any) => v.code).sort();
    expect(retry.data.map((v: any) => v.code).sort()).toEqual(codes);
    expect((await get(organizer, path)).body.data.map((v: any) => v.code).sort()).toEqual(codes);
    await objectBack(e.id);
    await cronPushesProducts();
    expect((await objectTypes(e.id)).vouchers.map((v) => v.code).sort()).toEqual(codes);
  });

  it("a voucher code created while the object is unreachable works once the object is back, and asking again without a key says the code is taken", async () => {
    const e = await makePublished(organizer, venue.id, { seating: "general", capacity: 100, priceCents: 4500 });
    await failPushes(e.id);
    const path = `/v1/events/${e.id}/vouchers`;
    const body = { code: "SPRING", discount: { kind: "fixed", value: 1000 }, maxUsages: 10 };
    const first = await post(organizer, path, body);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.inventoryPending).toBe(true);
    expectError((await post(organizer, path, body)).body, "CONFLICT");
    await objectBack(e.id);
    await cronPushesProducts();
    const hold = await post(buyer, `/v1/events/${e.id}/holds`, { quantity: 1, voucher: "spring" });
    expect(hold.status, JSON.stringify(hold.body)).toBe(201);
    expect(hold.body.totalCents).toBe(3500);
  });

  it("a ticket type deleted while the object is unreachable stops selling once the object is back", async () => {
    const e = await makePublished(organizer, venue.id, { seating: "general", capacity: 100, priceCents: 4500 });
    const spare = (await post(organizer, `/v1/events/${e.id}/ticket-types`, { name: "Spare", priceCents: 1000 })).body;
    await failPushes(e.id);
    const del = await call(`/v1/events/${e.id}/ticket-types/${spare.id}`, { method: "DELETE", headers: organizer.auth });
    expect(del.status).toBe(204);
    await objectBack(e.id);
    await cronPushesProducts();
    const hold = await post(buyer, `/v1/events/${e.id}/holds`, { items: [{ ticketTypeId: spare.id, quantity: 1 }] });
    expect(hold.status, JSON.stringify(hold.body)).toBe(400);
    expect(spare.inventoryPending).toBe(false);
    const [row] = await withDb((db) => db.select().from(productRevisions).where(eq(productRevisions.eventId, e.id)));
    expect(row.pushedRevision).toBe(row.revision);
  });

  it("changes racing each other leave the object with the newest set: every change raises the revision by one, and a stale or repeated push is refused", async () => {
    const e = await makePublished(organizer, venue.id, { seating: "general", capacity: 100, priceCents: 4500 });
    const made = await Promise.all(Array.from({ length: 6 }, (_, i) => post(organizer, `/v1/events/${e.id}/ticket-types`, { name: `T${i}`, priceCents: 1000 + i })));
    expect(made.map((m) => m.status)).toEqual(Array(6).fill(201));
    const [row] = await withDb((db) => db.select().from(productRevisions).where(eq(productRevisions.eventId, e.id)));
    expect(row.revision).toBe(6);
    const held = await objectTypes(e.id);
    expect(held.revision).toBe(6);
    expect(held.types.map((t) => t.ticketTypeId).sort()).toEqual(["tt_default", ...made.map((m) => m.body.id)].sort());

    // A set read before the last change, pushed late with the same revision number, changes nothing.
    const stale = { revision: 6, types: [], vouchers: [] };
    expect(await inventoryStub(e.id).setProducts(stale)).toEqual({ ok: true, value: { revision: 6, applied: false } });
    expect((await objectTypes(e.id)).types).toHaveLength(7);
    const types = await withDb((db) => db.select().from(ticketTypes).where(eq(ticketTypes.eventId, e.id)));
    expect(new Set(types.map((t) => t.position)).size).toBe(6);
  });
});
