import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { EventInventory } from "../../durable-objects/inventory/object";
import { call, makeUser, type TestUser } from "../helpers/fixtures";
import { makePublished, makeVenue } from "../helpers/catalogue";
import { callApp, holdAnswered, inventoryStub, makeUsers, rng } from "../helpers/inventory";

const BUYERS = 300;
const QUOTA = 50;
const USAGES = 20;
const SEEDS = [3, 11, 29];
let buyers: TestUser[];
let organizer: TestUser;
let venueId: string;

beforeAll(async () => {
  organizer = await makeUser("organizer");
  venueId = (await makeVenue(organizer)).id;
  buyers = await makeUsers(BUYERS);
});

async function setUp() {
  const e = await makePublished(organizer, venueId, { seating: "general", capacity: 400, priceCents: 4500, maxSeatsPerUser: 8 });
  const made = async (path: string, json: unknown) => {
    const res = await call(`/v1/events/${e.id}/${path}`, { method: "POST", headers: organizer.auth, json });
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(201);
    return body;
  };
  const early = await made("ticket-types", { name: "Early bird", priceCents: 3000, quota: QUOTA });
  const code = (await made("vouchers", { code: "STORM", discount: { kind: "percent", value: 10 }, maxUsages: USAGES })).data[0];
  return { eventId: e.id as string, typeId: early.id as string, voucherId: code.id as string };
}

describe(`storm: ${BUYERS} buyers race for a type with quota ${QUOTA} and a voucher with ${USAGES} uses`, () => {
  for (const seed of SEEDS) {
    it(`never sells more than the quota nor uses the voucher more than its max, and usages come back on expiry (seed ${seed})`, async () => {
      const { eventId, typeId, voucherId } = await setUp();
      const random = rng(seed);
      const asks = buyers.map(() => ({ items: [{ ticketTypeId: typeId, quantity: 1 + Math.floor(random() * 2) }], ...(random() < 0.5 ? { voucher: "storm" } : {}) }));
      // A request shed with 503 is sent again, so each buyer ends with the object's answer.
      const results = await Promise.all(asks.map((json, i) => holdAnswered(eventId, buyers[i].auth, json)));

      let sold = 0;
      let usages = 0;
      const codes = new Map<string, number>();
      results.forEach((r, i) => {
        if (r.status === 201) {
          sold += r.body.quantity;
          expect(r.body.lines).toHaveLength(1);
          expect(r.body.lines[0]).toMatchObject({ ticketTypeId: typeId, unitCents: 3000, quantity: asks[i].items[0].quantity });
          const discounted = asks[i].voucher !== undefined;
          if (discounted) usages++;
          expect(r.body.voucherId).toBe(discounted ? voucherId : null);
          expect(r.body.totalCents).toBe(r.body.quantity * (discounted ? 2700 : 3000));
          return;
        }
        expect(r.status, JSON.stringify(r.body)).toBe(409);
        codes.set(r.body.error.code, (codes.get(r.body.error.code) ?? 0) + 1);
        if (r.body.error.code === "VOUCHER_EXHAUSTED") expect(asks[i].voucher).toBeDefined();
      });
      expect([...codes.keys()].every((c) => c === "QUOTA_EXHAUSTED" || c === "VOUCHER_EXHAUSTED"), JSON.stringify([...codes])).toBe(true);
      expect(sold).toBeLessThanOrEqual(QUOTA);
      expect(usages).toBeLessThanOrEqual(USAGES);
      // Refusals only once a limit was really reached: the voucher refused only after its 20th usage, the type only with 0-1 left.
      if (codes.has("VOUCHER_EXHAUSTED")) expect(usages).toBe(USAGES);
      expect(sold).toBeGreaterThanOrEqual(QUOTA - 1);

      const stub = inventoryStub(eventId);
      const stats = await stub.productStats();
      if (!stats.ok) throw new Error("productStats failed");
      expect(stats.value.types.find((t) => t.ticketTypeId === typeId)).toMatchObject({ used: sold, quota: QUOTA, available: QUOTA - sold });
      expect(stats.value.vouchers).toEqual([expect.objectContaining({ voucherId, usages, maxUsages: USAGES })]);
      expect(await stub.stats()).toMatchObject({ held: sold, available: 400 - sold });

      // Every hold lapses unbooked: the quota and every usage come back, and the code sells again.
      await runInDurableObject(stub, (o: EventInventory) => {
        const later = Date.now() + 601_000;
        o.now = () => later;
      });
      const back = await stub.productStats();
      expect(back).toMatchObject({ ok: true, value: { vouchers: [{ usages: 0 }] } });
      expect(back.ok && back.value.types.find((t) => t.ticketTypeId === typeId)).toMatchObject({ used: 0, available: QUOTA });
      const again = await callApp(`/v1/events/${eventId}/holds`, { method: "POST", headers: buyers[0].auth, json: { items: [{ ticketTypeId: typeId, quantity: 1 }], voucher: "STORM" } });
      expect(again.status).toBe(201);
    }, 120_000);
  }
});
