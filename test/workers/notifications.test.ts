import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { call, makeUser, testEnv, withDb } from "../helpers/fixtures";
import { eventually } from "../helpers/wait";
import { notifications } from "../../src/db/schema";
import type { NotificationMessage } from "../../src/queues/messages";

const message = (userId: string, dedupeKey: string, kind: NotificationMessage["kind"] = "booking.confirmed"): NotificationMessage => ({
  type: "notification.send",
  dedupeKey,
  userId,
  kind,
  payload: { bookingId: crypto.randomUUID(), amountCents: 5000, currency: "EUR" },
});

const rowsFor = (userId: string) => withDb((db) => db.select().from(notifications).where(eq(notifications.userId, userId)));

describe("notifications through the real queue", () => {
  it("stores a notification once and marks it emailed when the same message is delivered twice", async () => {
    const u = await makeUser();
    const key = `test:${crypto.randomUUID()}`;
    await testEnv.NOTIFICATIONS.send(message(u.id, key));
    await testEnv.NOTIFICATIONS.send(message(u.id, key));
    const rows = await eventually(async () => {
      const r = await rowsFor(u.id);
      return r.length && r.every((n) => n.emailedAt) ? r : null;
    }, 15_000, "notification stored and emailed");
    await new Promise((r) => setTimeout(r, 1_500)); // let the duplicate land too
    expect(await rowsFor(u.id)).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: "booking.confirmed", dedupeKey: key });
  });

  it("lists only the caller's own notifications, newest first, in keyset pages", async () => {
    const [me, other] = [await makeUser(), await makeUser()];
    await withDb(async (db) => {
      // A second apart: rows inserted back to back can share a timestamp (the embedded Postgres's
      // clock is coarse), and then "newest first" is the ids' random order.
      const t0 = Date.now() - 60_000;
      for (let i = 0; i < 5; i++) {
        await db.insert(notifications).values({ userId: me.id, dedupeKey: `t:${crypto.randomUUID()}`, type: "booking.confirmed", payload: { n: i }, createdAt: new Date(t0 + i * 1_000) });
      }
      await db.insert(notifications).values({ userId: other.id, dedupeKey: `t:${crypto.randomUUID()}`, type: "booking.failed", payload: { n: 99 } });
    });
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(`/v1/notifications?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { headers: me.auth });
      expect(res.status).toBe(200);
      const body: any = await res.json();
      expect(body.data.length).toBeLessThanOrEqual(2);
      seen.push(...body.data.map((n: any) => n.payload.n));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([4, 3, 2, 1, 0]);
  });

  it("answers 401 without a token and 400 for a forged cursor", async () => {
    expect((await call("/v1/notifications")).status).toBe(401);
    const u = await makeUser();
    const res = await call("/v1/notifications?cursor=bm9wZQ", { headers: u.auth });
    expect(res.status).toBe(400);
  });
});
