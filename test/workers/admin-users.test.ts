import { eq } from "drizzle-orm";
import { eventually } from "../helpers/wait";
import { describe, expect, it } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import type { UserSessions } from "../../durable-objects/user-sessions/object";
import { auditLog, refreshTokens, userStatusOutbox, users } from "../../src/db/schema";
import { runScheduled } from "../../src/jobs/scheduled";
import { call, expectError, makeSession, makeUser, testEnv, withDb } from "../helpers/fixtures";

const patch = (id: string, json: unknown, headers: Record<string, string>) => call(`/v1/admin/users/${id}`, { method: "PATCH", json, headers });

describe("admin changes to accounts", () => {
  it("promotes a user to organizer, audits it, and the old token must be refreshed to carry the new role", async () => {
    const admin = await makeUser("admin");
    const target = await makeSession("user");
    const res = await patch(target.id, { role: "organizer" }, admin.auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: target.id, role: "organizer", disabled: false });

    expect((await call("/v1/me", { headers: target.auth })).status).toBe(401);
    const refreshed: any = await (await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: target.refreshToken } })).json();
    const me = await call("/v1/me", { headers: { authorization: `Bearer ${refreshed.accessToken}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as any).role).toBe("organizer");

    const rows = await withDb((db) => db.select().from(auditLog).where(eq(auditLog.subjectId, target.id)));
    expect(rows.find((r) => r.action === "admin.user_updated")).toMatchObject({ actorId: admin.id, detail: { from: { role: "user" }, to: { role: "organizer" } } });
  });

  it("disables a user: their access and refresh tokens stop at once, and enabling lets them log in again later", async () => {
    const admin = await makeUser("admin");
    const target = await makeSession("user");
    expect((await call("/v1/me", { headers: target.auth })).status).toBe(200);
    const res = await patch(target.id, { disabled: true }, admin.auth);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).disabled).toBe(true);

    const me = await call("/v1/me", { headers: target.auth });
    expect(me.status).toBe(401);
    expectError(await me.json(), "UNAUTHENTICATED");
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: target.refreshToken } })).status).toBe(401);
    const family = await withDb((db) => db.select().from(refreshTokens).where(eq(refreshTokens.userId, target.id)));
    expect(family.every((r) => r.revokedAt !== null)).toBe(true);

    const enabled = await patch(target.id, { disabled: false }, admin.auth);
    expect(((await enabled.json()) as any).disabled).toBe(false);
    // Tokens from before the disable stay dead; a new session works.
    expect((await call("/v1/me", { headers: target.auth })).status).toBe(401);
  });

  it("keeps an admin from disabling or demoting their own account", async () => {
    const admin = await makeUser("admin");
    for (const body of [{ disabled: true }, { role: "user" }]) {
      const res = await patch(admin.id, body, admin.auth);
      expect(res.status).toBe(409);
      expectError(await res.json(), "INVALID_STATE");
    }
  });

  it("answers 404 for an unknown user and 400 for an empty or unknown change", async () => {
    const admin = await makeUser("admin");
    const target = await makeUser("user");
    expectError(await (await patch(crypto.randomUUID(), { role: "organizer" }, admin.auth)).json(), "NOT_FOUND");
    expectError(await (await patch("not-a-uuid", { role: "organizer" }, admin.auth)).json(), "NOT_FOUND");
    for (const body of [{}, { role: "superuser" }, { disabled: "yes" }, { email: "x@y.z" }]) {
      const res = await patch(target.id, body, admin.auth);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("a disable that the sessions object missed", () => {
  it("still takes effect: when the sessions object fails once after the commit, the user's token is refused after the retry", async () => {
    const admin = await makeUser("admin");
    const target = await makeSession("user");
    expect((await call("/v1/me", { headers: target.auth })).status).toBe(200);
    // Fault: the target's sessions object throws on its next status update, as if it had crashed.
    const sessions: DurableObjectStub<UserSessions> = testEnv.USER_SESSIONS.get(testEnv.USER_SESSIONS.idFromName(target.id));
    await runInDurableObject(sessions, (instance: UserSessions) => {
      const proto = Object.getPrototypeOf(instance);
      const setStatus = proto.setStatus;
      proto.setStatus = async function () {
        proto.setStatus = setStatus;
        throw new Error("sessions object unavailable");
      };
    });

    const res = await patch(target.id, { disabled: true }, admin.auth);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).disabled).toBe(true);

    let status = 0;
    for (const until = Date.now() + 8_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      status = (await call("/v1/me", { headers: target.auth })).status;
      if (status === 401) break;
    }
    expect(status).toBe(401);
    // The outbox row goes once the object has acknowledged, just after the change took effect.
    await eventually(async () => (await withDb((db) => db.select().from(userStatusOutbox).where(eq(userStatusOutbox.userId, target.id)))).length === 0, 8_000, "outbox row delivered");
  });

  it("is delivered by the cron when it is still waiting in the outbox", async () => {
    const target = await makeSession("user");
    // The state a crash right after the commit leaves behind: the user disabled in Postgres, the
    // sessions object never told.
    await withDb(async (db) => {
      await db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, target.id));
      await db.insert(userStatusOutbox).values({ userId: target.id, role: "user", disabled: true, changedAt: new Date() });
    });
    expect((await call("/v1/me", { headers: target.auth })).status).toBe(200);
    await runScheduled(testEnv, new Date());
    expect((await call("/v1/me", { headers: target.auth })).status).toBe(401);
  });
});
