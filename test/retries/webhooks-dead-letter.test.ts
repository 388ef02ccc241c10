import { describe, expect, it, inject } from "vitest";
import { eq } from "drizzle-orm";
import { webhookDeliveries } from "../../src/db/schema";
import { emitWebhook } from "../../src/services/webhooks";
import { call, makeUser, testEnv, withDb } from "../helpers/fixtures";
import { makeReservedEvent } from "../helpers/booking-fixtures";
import { eventually } from "../helpers/wait";

// Real retry exhaustion: this project's webhooks queue retries twice, then hands the message to the
// real webhooks-dlq (vitest.config.ts, project workers-retries), whose consumer marks it failed.

describe("a webhook delivery that runs out of retries", () => {
  it("is marked failed with every attempt logged, and a replay delivers it once the receiver is back", async () => {
    const receiver = inject("webhookReceiver");
    const name = crypto.randomUUID();
    await fetch(`${receiver}/control/${name}?failFirst=3`, { method: "PUT" });
    const ev = await makeReservedEvent();
    const admin = await makeUser("admin");
    const hook: any = await (await call("/v1/webhooks", { method: "POST", headers: admin.auth, json: { url: `${receiver}/in/${name}`, events: ["checkin.redeemed"], eventId: ev.eventId } })).json();
    const sent = await withDb((db) => emitWebhook(testEnv, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: "dlq-test", data: { ticketId: "t" } }));
    expect(sent).toBe(1);
    // Emitting the same happening again makes no second delivery.
    expect(await withDb((db) => emitWebhook(testEnv, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: "dlq-test", data: { ticketId: "t" } }))).toBe(0);

    const failed = await eventually(async () => {
      const [d] = await withDb((db) => db.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hook.id)));
      return d?.status === "failed" ? d : null;
    }, 20_000, "delivery dead-lettered");
    expect(failed.attempts).toBe(3);
    const log: any = await (await call(`/v1/webhooks/${hook.id}/deliveries`, { headers: admin.auth })).json();
    expect(log.data[0]).toMatchObject({ id: failed.id, status: "failed", lastStatusCode: 500 });
    expect(log.data[0].attempts.map((a: any) => a.statusCode)).toEqual([500, 500, 500]);

    expect((await call(`/v1/webhooks/${hook.id}/deliveries/${failed.id}/replay`, { method: "POST", headers: admin.auth })).status).toBe(202);
    await eventually(async () => {
      const [d] = await withDb((db) => db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, failed.id)));
      return d.status === "delivered";
    }, 10_000, "replayed delivery delivered");
    const got: any[] = await (await fetch(`${receiver}/control/${name}`)).json();
    expect(got.map((r) => [r.status, r.headers["evently-delivery"]])).toEqual([[500, failed.id], [500, failed.id], [500, failed.id], [200, failed.id]]);
  });
});
