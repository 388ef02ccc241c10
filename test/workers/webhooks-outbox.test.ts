import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { eq } from "drizzle-orm";
import { createApp } from "../../src/app";
import { events, organizationMembers, webhookAttempts, webhookDeliveries, webhooks } from "../../src/db/schema";
import type { Env } from "../../src/env";
import { runScheduled, STAGES } from "../../src/jobs/scheduled";
import { createWebhook, emitWebhook } from "../../src/services/webhooks";
import { call, makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { confirmedBooking, makeReservedEventOnSale, type TestEvent } from "../helpers/booking-fixtures";
import { eventually } from "../helpers/wait";

// Webhooks as an outbox (issue 24 item 12), checked against their owner's access at delivery (item
// 13). The one fault injected: a WEBHOOKS queue binding whose sends fail; everything else is real
// (workerd, Postgres, the queue consumer, an HTTP receiver on a real socket).

const receiver = inject("webhookReceiver");
const inbox = async (name: string): Promise<any[]> => (await fetch(`${receiver}/control/${name}`)).json() as Promise<any[]>;

const queueDown = {
  send: async () => {
    throw new Error("queue unavailable");
  },
  sendBatch: async () => {
    throw new Error("queue unavailable");
  },
};
const brokenQueue = { ...testEnv, WEBHOOKS: queueDown } as unknown as Env;

/** The app with the WEBHOOKS queue down (waits for its waitUntil work too). */
async function requestWithQueueDown(path: string, init: RequestInit & { json?: unknown }): Promise<Response> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set("content-type", "application/json");
  const ctx = createExecutionContext();
  const res = await createApp().request(path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body }, brokenQueue, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The cron's outbox stage alone, run as if a minute had passed (pending rows are swept once a few seconds old). */
const sweep = async () => {
  const result = await runScheduled(testEnv, new Date(Date.now() + 60_000), { webhookOutbox: STAGES.webhookOutbox });
  expect(result.webhookOutbox).toMatchObject({ ok: true });
  return result.webhookOutbox as Record<string, unknown>;
};


async function eventHook(ev: TestEvent, owner: TestUser, types: string[]) {
  const name = crypto.randomUUID();
  const res = await call("/v1/webhooks", { method: "POST", headers: owner.auth, json: { url: `${receiver}/in/${name}`, events: types, eventId: ev.eventId } });
  expect(res.status).toBe(201);
  return { name, hook: (await res.json()) as any };
}

const attemptsOf = (deliveryId: string) => withDb((db) => db.select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, deliveryId)));
const deliveriesOf = (hookId: string) => withDb((db) => db.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hookId)));

describe("a webhook whose queue send failed", () => {
  it("is not lost: the emit does not fail, a repeated emit adds nothing, and the cron's sweep delivers it once", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const { name, hook } = await eventHook(ev, admin, ["checkin.redeemed"]);
    const m = { type: "checkin.redeemed" as const, eventId: ev.eventId, dedupeKey: `outbox:${crypto.randomUUID()}`, data: { ticketId: "t1", eventId: ev.eventId } };
    await withDb((db) => emitWebhook(brokenQueue, db, m));
    // The happening again (a retried request or message): the row is there, no second delivery.
    expect(await withDb((db) => emitWebhook(testEnv, db, m))).toBe(0);
    expect(await deliveriesOf(hook.id)).toMatchObject([{ status: "pending", attempts: 0 }]);

    const swept = await sweep();
    expect(swept.queued).toBeGreaterThanOrEqual(1);
    const got = await eventually(async () => ((await inbox(name)).length >= 1 ? inbox(name) : null), 10_000, "the swept delivery");
    await eventually(async () => (await deliveriesOf(hook.id))[0].status === "delivered", 10_000, "delivery marked delivered");
    // A second sweep finds nothing left to send.
    await sweep();
    await new Promise((r) => setTimeout(r, 500));
    expect(await inbox(name)).toHaveLength(1);
    expect(JSON.parse(got[0].body)).toMatchObject({ type: "checkin.redeemed", data: { ticketId: "t1" } });
  });

  it("a transfer still answers 200 (the work was done), and the receiver gets ticket.transferred after the sweep", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const { name } = await eventHook(ev, admin, ["ticket.transferred"]);
    const buyer = await makeUser();
    const friend = await makeUser();
    await confirmedBooking(ev, buyer, ["A-1-1"]);
    const [t]: any[] = ((await (await call(`/v1/tickets?eventId=${ev.eventId}`, { headers: buyer.auth })).json()) as any).data;
    const res = await requestWithQueueDown(`/v1/tickets/${t.id}/transfer`, { method: "POST", headers: buyer.auth, json: { toEmail: friend.email } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).status).toBe("transferred");
    await sweep();
    const got = await eventually(async () => ((await inbox(name)).length >= 1 ? inbox(name) : null), 10_000, "ticket.transferred");
    expect(JSON.parse(got[0].body)).toMatchObject({ type: "ticket.transferred", data: { ticketId: t.id, toUserId: friend.id } });
  });

  it("a check-in still admits (200, ok), and the receiver gets checkin.redeemed after the sweep", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const { name } = await eventHook(ev, admin, ["checkin.redeemed"]);
    const list: any = await (await call(`/v1/events/${ev.eventId}/checkin-lists`, { method: "POST", headers: admin.auth, json: { name: "Main door" } })).json();
    const buyer = await makeUser();
    await confirmedBooking(ev, buyer, ["A-1-2"]);
    const [t]: any[] = ((await (await call(`/v1/tickets?eventId=${ev.eventId}`, { headers: buyer.auth })).json()) as any).data;
    const res = await requestWithQueueDown("/v1/checkin/redeem", { method: "POST", headers: admin.auth, json: { listId: list.id, code: t.code, nonce: crypto.randomUUID() } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).result).toBe("ok");
    await sweep();
    const got = await eventually(async () => ((await inbox(name)).length >= 1 ? inbox(name) : null), 10_000, "checkin.redeemed");
    expect(JSON.parse(got[0].body)).toMatchObject({ type: "checkin.redeemed", data: { ticketId: t.id, listId: list.id } });
  });
});

describe("the cron's outbox sweep", () => {
  it("leaves a deleted endpoint's pending deliveries alone (they would be requeued for ever)", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const { name, hook } = await eventHook(ev, admin, ["checkin.redeemed"]);
    await withDb((db) => emitWebhook(brokenQueue, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: `deleted:${crypto.randomUUID()}`, data: { eventId: ev.eventId } }));
    expect((await call(`/v1/webhooks/${hook.id}`, { method: "DELETE", headers: admin.auth })).status).toBe(204);
    await sweep();
    expect(await deliveriesOf(hook.id)).toMatchObject([{ status: "pending", queuedAt: null }]);
    expect(await inbox(name)).toEqual([]);
  });
});

describe("a platform admin's global webhook whose admin lost the role", () => {
  const asAuthUser = (id: string, role: "organizer" | "admin") => ({ id, role, sid: "s", jti: "j", exp: 0 });

  it("a platform admin's global webhook receives nothing once the admin is disabled: the pending delivery is marked skipped (owner_disabled)", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const name = crypto.randomUUID();
    const hook = await withDb((db) => createWebhook(testEnv, db, asAuthUser(admin.id, "admin"), { url: `${receiver}/in/${name}`, events: ["checkin.redeemed"] }));
    expect(hook.orgId).toBeNull();
    try {
      await withDb((db) => emitWebhook(brokenQueue, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: `owner:${crypto.randomUUID()}`, data: { ticketId: "t", eventId: ev.eventId } }));
      const other = await makeUser("admin");
      expect((await call(`/v1/admin/users/${admin.id}`, { method: "PATCH", headers: other.auth, json: { disabled: true } })).status).toBe(200);

      await sweep();
      const [d] = await eventually(async () => {
        const rows = await deliveriesOf(hook.id);
        return rows[0]?.status !== "pending" ? rows : null;
      }, 10_000, "delivery settled");
      expect(d.status).toBe("skipped");
      const log = await attemptsOf(d.id);
      expect(log.map((r) => r.error)).toEqual(["owner_disabled"]);
      expect(await inbox(name)).toEqual([]);
    } finally {
      await withDb((db) => db.update(webhooks).set({ deletedAt: new Date() }).where(eq(webhooks.id, hook.id)));
    }
  });

  it("a demoted admin's global webhook stops receiving other organizers' events (skipped, owner_lacks_access)", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const other = await makeUser("admin");
    const name = crypto.randomUUID();
    const created = await call("/v1/webhooks", { method: "POST", headers: admin.auth, json: { url: `${receiver}/in/${name}`, events: ["checkin.redeemed"] } });
    expect(created.status).toBe(201);
    const hook: any = await created.json();
    try {
      await withDb((db) => emitWebhook(brokenQueue, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: `demoted:${crypto.randomUUID()}`, data: { ticketId: "t", eventId: ev.eventId } }));
      expect((await call(`/v1/admin/users/${admin.id}`, { method: "PATCH", headers: other.auth, json: { role: "organizer" } })).status).toBe(200);

      await sweep();
      const [d] = await eventually(async () => {
        const rows = await deliveriesOf(hook.id);
        return rows.length && rows.every((r) => r.status !== "pending") ? rows : null;
      }, 10_000, "delivery settled");
      expect(d.status).toBe("skipped");
      const log = await attemptsOf(d.id);
      expect(log.map((r) => r.error)).toEqual(["owner_lacks_access"]);
      expect(await inbox(name)).toEqual([]);
      // The owner's delivery log says so.
      const shown: any = await (await call(`/v1/webhooks/${hook.id}/deliveries`, { headers: other.auth })).json();
      expect(shown.data[0]).toMatchObject({ id: d.id, status: "skipped", attempts: [{ statusCode: null, error: "owner_lacks_access" }] });
    } finally {
      // A global hook of an admin sees every event: retire it, so no other test delivers there.
      await withDb((db) => db.update(webhooks).set({ deletedAt: new Date() }).where(eq(webhooks.id, hook.id)));
    }
  });
});

describe("a webhook of an organization (organizations × webhooks)", () => {
  const orgOfEvent = async (ev: TestEvent) => (await withDb((db) => db.select({ orgId: events.orgId }).from(events).where(eq(events.id, ev.eventId))))[0].orgId;
  const json = async (res: Response) => ({ status: res.status, body: res.status === 204 ? null : ((await res.json()) as any) });

  it("keeps delivering for the organization after the member who created it is removed, and another admin of the organization lists, reads and deletes it", async () => {
    const ev = await makeReservedEventOnSale();
    const orgId = await orgOfEvent(ev);
    // Plain accounts: what they may do comes from their role in the organization.
    const creator = await makeUser("user", "hook-creator");
    const colleague = await makeUser("user", "hook-colleague");
    await withDb((db) => db.insert(organizationMembers).values([{ orgId, userId: creator.id, role: "admin" }, { orgId, userId: colleague.id, role: "admin" }]));
    const name = crypto.randomUUID();
    const created = await json(await call("/v1/webhooks", { method: "POST", headers: creator.auth, json: { url: `${receiver}/in/${name}`, events: ["checkin.redeemed"], eventId: ev.eventId } }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ orgId, eventId: ev.eventId, createdBy: creator.id });
    const hook = created.body;

    await withDb((db) => emitWebhook(testEnv, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: `member:${crypto.randomUUID()}`, data: { ticketId: "t1", eventId: ev.eventId } }));
    await eventually(async () => (await inbox(name)).length === 1, 10_000, "the organization's webhook delivered");

    // The creator leaves the organization: the hook is the organization's, and keeps working.
    const owner = await makeUser("admin");
    expect((await call(`/v1/orgs/${orgId}/members/${creator.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    await withDb((db) => emitWebhook(testEnv, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: `removed:${crypto.randomUUID()}`, data: { ticketId: "t2", eventId: ev.eventId } }));
    await eventually(async () => (await inbox(name)).length === 2, 10_000, "delivered after the creator left");
    expect((await deliveriesOf(hook.id)).map((r) => r.status)).toEqual(["delivered", "delivered"]);

    // The removed creator no longer reaches it; a colleague does.
    expect([403, 404]).toContain((await call(`/v1/webhooks/${hook.id}/deliveries`, { headers: creator.auth })).status);
    const listed = await json(await call(`/v1/webhooks?orgId=${orgId}`, { headers: colleague.auth }));
    expect(listed.body.data.map((h: any) => h.id)).toContain(hook.id);
    const log = await json(await call(`/v1/webhooks/${hook.id}/deliveries`, { headers: colleague.auth }));
    expect(log.body.data.map((d: any) => d.status)).toEqual(["delivered", "delivered"]);
    const changed = await json(await call(`/v1/webhooks/${hook.id}`, { method: "PATCH", headers: colleague.auth, json: { events: ["checkin.redeemed", "ticket.transferred"] } }));
    expect(changed.body).toMatchObject({ id: hook.id, orgId, events: ["checkin.redeemed", "ticket.transferred"] });
    expect((await json(await call(`/v1/webhooks/${hook.id}`, { headers: colleague.auth }))).body.events).toEqual(["checkin.redeemed", "ticket.transferred"]);
    expect((await call(`/v1/webhooks/${hook.id}`, { method: "DELETE", headers: colleague.auth })).status).toBe(204);
    expect((await json(await call(`/v1/webhooks?orgId=${orgId}`, { headers: colleague.auth }))).body.data.map((h: any) => h.id)).not.toContain(hook.id);
  });

  it("an organization left with no enabled owner or admin (a banned organizer's own) receives nothing more: the delivery is skipped (no_active_manager)", async () => {
    const ev = await makeReservedEventOnSale();
    const orgId = await orgOfEvent(ev);
    const manager = await makeUser("user", "banned-org-admin");
    await withDb((db) => db.insert(organizationMembers).values({ orgId, userId: manager.id, role: "admin" }));
    const name = crypto.randomUUID();
    const created = await json(await call("/v1/webhooks", { method: "POST", headers: manager.auth, json: { url: `${receiver}/in/${name}`, events: ["checkin.redeemed"], eventId: ev.eventId } }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await withDb((db) => emitWebhook(brokenQueue, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: `banned:${crypto.randomUUID()}`, data: { ticketId: "t", eventId: ev.eventId } }));
    // Every owner and admin of the organization is disabled by the platform's admins.
    const admins = await withDb((db) => db.select({ id: organizationMembers.userId }).from(organizationMembers).where(eq(organizationMembers.orgId, orgId)));
    const platform = await makeUser("admin");
    for (const m of admins) expect((await call(`/v1/admin/users/${m.id}`, { method: "PATCH", headers: platform.auth, json: { disabled: true } })).status).toBe(200);

    await sweep();
    const [d] = await eventually(async () => {
      const rows = await deliveriesOf(created.body.id);
      return rows[0]?.status !== "pending" ? rows : null;
    }, 10_000, "delivery settled");
    expect(d.status).toBe("skipped");
    expect((await attemptsOf(d.id)).map((r) => r.error)).toEqual(["no_active_manager"]);
    expect(await inbox(name)).toEqual([]);
  });

  it("a hook for every event of an organization gets that organization's events only, not those of another organization its creator also manages", async () => {
    const mine = await makeReservedEventOnSale();
    const theirs = await makeReservedEventOnSale();
    const [orgId, otherOrgId] = [await orgOfEvent(mine), await orgOfEvent(theirs)];
    const admin = await makeUser("organizer", "two-org-admin");
    await withDb((db) => db.insert(organizationMembers).values([{ orgId, userId: admin.id, role: "admin" }, { orgId: otherOrgId, userId: admin.id, role: "admin" }]));
    const name = crypto.randomUUID();
    const created = await json(await call("/v1/webhooks", { method: "POST", headers: admin.auth, json: { url: `${receiver}/in/${name}`, events: ["checkin.redeemed"], orgId } }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ orgId, eventId: null });
    for (const ev of [theirs, mine]) {
      await withDb((db) => emitWebhook(testEnv, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: `every:${crypto.randomUUID()}`, data: { ticketId: ev.eventId, eventId: ev.eventId } }));
    }
    await eventually(async () => (await inbox(name)).length === 1, 10_000, "the organization's event delivered");
    expect((await deliveriesOf(created.body.id)).length).toBe(1);
    expect((await inbox(name)).map((d) => JSON.parse(d.body).data.ticketId)).toEqual([mine.eventId]);
  });
});

describe("what the organizer's delivery log says about a failed attempt", () => {
  it("is a status class (connect_failed), not the raw connection error", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    // Port 1 on loopback: nothing listens there.
    const hook: any = await (await call("/v1/webhooks", { method: "POST", headers: admin.auth, json: { url: "http://127.0.0.1:1/hook", events: ["checkin.redeemed"], eventId: ev.eventId } })).json();
    await withDb((db) => emitWebhook(testEnv, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: `closed:${crypto.randomUUID()}`, data: { ticketId: "t" } }));
    const shown = await eventually(async () => {
      const d: any = await (await call(`/v1/webhooks/${hook.id}/deliveries`, { headers: admin.auth })).json();
      return d.data[0]?.attempts.length ? d.data[0] : null;
    }, 10_000, "an attempt logged");
    expect(shown.attempts[0]).toMatchObject({ statusCode: null, error: "connect_failed" });
    expect((await call(`/v1/webhooks/${hook.id}`, { method: "DELETE", headers: admin.auth })).status).toBe(204);
  });
});
