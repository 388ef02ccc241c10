import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hashPassword } from "../../src/auth/passwords";
import { auditLog, refreshTokens, users } from "../../src/db/schema";
import { ensureUser } from "../../src/services/users";
import { call, expectError, freshIp, makeSession, makeUser, openSession, withDb } from "../helpers/fixtures";

const PASSWORD = "a perfectly fine passphrase";
const uniqueEmail = (tag: string) => `${tag}-${crypto.randomUUID()}@Example.TEST`;

async function register(body: Record<string, unknown>) {
  const res = await call("/v1/auth/register", { method: "POST", json: body, headers: freshIp() });
  return { res, body: (await res.json()) as any };
}

async function auditRows(subjectId: string) {
  return withDb((db) => db.select().from(auditLog).where(eq(auditLog.subjectId, subjectId)));
}

describe("register and login with a real password", () => {
  it("registers a user with a normalized email, logs them in and shows them on /v1/me", async () => {
    const email = uniqueEmail("reg");
    const { res, body } = await register({ email: `  ${email} `, password: PASSWORD, name: "Ada" });
    expect(res.status).toBe(201);
    expect(body.user).toMatchObject({ email: email.toLowerCase(), name: "Ada", role: "user", disabled: false });
    expect(body.expiresIn).toBe(900);
    expect(body.refreshToken).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);

    const me = await call("/v1/me", { headers: { authorization: `Bearer ${body.accessToken}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual(body.user);

    const stored = await withDb((db) => db.select().from(users).where(eq(users.id, body.user.id)));
    expect(stored[0].passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect((await auditRows(body.user.id)).map((r) => r.action)).toContain("auth.register");

    const login = await call("/v1/auth/login", { method: "POST", json: { email: email.toUpperCase(), password: PASSWORD }, headers: freshIp() });
    expect(login.status).toBe(200);
    const session: any = await login.json();
    expect(session.user.id).toBe(body.user.id);
    expect(session.refreshToken).not.toBe(body.refreshToken);
    expect((await auditRows(body.user.id)).map((r) => r.action)).toContain("auth.login");
  });

  it("refuses a second account for the same email in another case with 409 EMAIL_TAKEN", async () => {
    const existing = await makeUser("user");
    const { res, body } = await register({ email: existing.email.toUpperCase(), password: PASSWORD, name: "Copy" });
    expect(res.status).toBe(409);
    expectError(body, "EMAIL_TAKEN");
  });

  it("refuses a role in the register body with 400 and creates no account", async () => {
    const email = uniqueEmail("sneaky");
    const { res, body } = await register({ email, password: PASSWORD, name: "Mallory", role: "admin" });
    expect(res.status).toBe(400);
    expectError(body, "VALIDATION_FAILED");
    const rows = await withDb((db) => db.select().from(users).where(eq(users.email, email.toLowerCase())));
    expect(rows).toHaveLength(0);
  });

  it("enforces the password rule and a valid email with 400 VALIDATION_FAILED", async () => {
    for (const bad of [
      { email: uniqueEmail("short"), password: "eleven char", name: "A" },
      { email: uniqueEmail("long"), password: "x".repeat(129), name: "A" },
      { email: uniqueEmail("blank"), password: " ".repeat(20), name: "A" },
      { email: "not-an-email", password: PASSWORD, name: "A" },
      { email: uniqueEmail("noname"), password: PASSWORD, name: "  " },
    ]) {
      const { res, body } = await register(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expectError(body, "VALIDATION_FAILED");
    }
  });

  it("answers a wrong password and an unknown email with the same 401 INVALID_CREDENTIALS and audits both", async () => {
    const email = uniqueEmail("known");
    const user = await withDb((db) => ensureUser(db, { email, password: PASSWORD, name: "Known", role: "user" }));
    const wrong = await call("/v1/auth/login", { method: "POST", json: { email, password: "not the right one" }, headers: freshIp() });
    const unknownEmail = uniqueEmail("ghost");
    const unknown = await call("/v1/auth/login", { method: "POST", json: { email: unknownEmail, password: PASSWORD }, headers: freshIp() });
    const [a, b]: any[] = [await wrong.json(), await unknown.json()];
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expectError(a, "INVALID_CREDENTIALS");
    expectError(b, "INVALID_CREDENTIALS");
    expect(a.error.message).toBe(b.error.message);
    const failed = await withDb((db) => db.select().from(auditLog).where(eq(auditLog.action, "auth.login_failed")));
    expect(failed.some((r) => r.actorId === user.user.id)).toBe(true);
    expect(failed.some((r) => (r.detail as any)?.email === unknownEmail.toLowerCase())).toBe(true);
  });

  it("rehashes a password stored with older parameters on the next successful login", async () => {
    const email = uniqueEmail("legacy");
    const legacyHash = hashPassword(PASSWORD, { m: 1024, t: 1, p: 1 });
    const [row] = await withDb((db) => db.insert(users).values({ email: email.toLowerCase(), name: "Legacy", passwordHash: legacyHash }).returning());
    const res = await call("/v1/auth/login", { method: "POST", json: { email, password: PASSWORD }, headers: freshIp() });
    expect(res.status).toBe(200);
    const [after] = await withDb((db) => db.select().from(users).where(eq(users.id, row.id)));
    expect(after.passwordHash).not.toBe(legacyHash);
    expect(after.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});

describe("refresh tokens", () => {
  it("rotates: a refresh answers a new pair and spends the old refresh token", async () => {
    const s = await makeSession();
    const res = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: s.refreshToken } });
    expect(res.status).toBe(200);
    const next: any = await res.json();
    expect(next.refreshToken).not.toBe(s.refreshToken);
    expect(next.refreshToken.split(".")[0]).toBe(s.sid);
    expect((await call("/v1/me", { headers: { authorization: `Bearer ${next.accessToken}` } })).status).toBe(200);
    const family = await withDb((db) => db.select().from(refreshTokens).where(eq(refreshTokens.familyId, s.sid)));
    expect(family).toHaveLength(2);
    expect(family.every((r) => !r.tokenHash.includes(".") && r.tokenHash.length === 64)).toBe(true);
  });

  it("revokes the whole family, access tokens included, when a spent refresh token comes back", async () => {
    const s = await makeSession();
    const first: any = await (await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: s.refreshToken } })).json();
    const replay = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: s.refreshToken } });
    expect(replay.status).toBe(401);
    expectError(await replay.json(), "UNAUTHENTICATED");
    // The thief and the victim both lose the session: the newest refresh and access tokens die too.
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: first.refreshToken } })).status).toBe(401);
    expect((await call("/v1/me", { headers: { authorization: `Bearer ${first.accessToken}` } })).status).toBe(401);
    expect((await auditRows(s.sid)).map((r) => r.action)).toContain("auth.refresh_reuse");
  });
});

describe("logout and sessions", () => {
  it("logs out: the access token and its refresh token stop working on the very next request", async () => {
    const s = await makeSession();
    const other = await makeSession();
    expect((await call("/v1/me", { headers: s.auth })).status).toBe(200);
    expect((await call("/v1/auth/logout", { method: "POST", headers: s.auth })).status).toBe(204);
    const me = await call("/v1/me", { headers: s.auth });
    expect(me.status).toBe(401);
    expectError(await me.json(), "UNAUTHENTICATED");
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: s.refreshToken } })).status).toBe(401);
    expect((await call("/v1/me", { headers: other.auth })).status).toBe(200);
    expect((await auditRows(s.sid)).map((r) => r.action)).toContain("auth.logout");
  });

  it("lists the caller's sessions and ends another device's session without touching the current one", async () => {
    const phone = await makeSession();
    const laptop = await openSession(phone.id);
    const laptopSid = laptop.sid;
    const list: any = await (await call("/v1/me/sessions", { headers: phone.auth })).json();
    expect(list.data.map((x: any) => x.id).sort()).toEqual([phone.sid, laptopSid].sort());
    expect(list.data.find((x: any) => x.id === phone.sid).current).toBe(true);

    expect((await call(`/v1/me/sessions/${laptopSid}`, { method: "DELETE", headers: phone.auth })).status).toBe(204);
    expect((await call("/v1/me", { headers: { authorization: `Bearer ${laptop.accessToken}` } })).status).toBe(401);
    expect((await call("/v1/me", { headers: phone.auth })).status).toBe(200);
    const revoked = await withDb((db) => db.select().from(refreshTokens).where(eq(refreshTokens.familyId, laptopSid)));
    expect(revoked.every((r) => r.revokedAt !== null)).toBe(true);
  });
});
