import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditLog, refreshTokens } from "../../src/db/schema";
import { call, expectError, makeSession, makeUser, withDb } from "../helpers/fixtures";

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
