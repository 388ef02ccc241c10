import { describe, expect, inject, it } from "vitest";
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { makeUser, testEnv, withDb } from "../helpers/fixtures";
import { requireRole, requireUser } from "../../src/auth/guards";
import { createApp } from "../../src/app";

describe("guards on a fixture user", () => {
  const app = createApp();
  const guarded = new Hono<any>()
    .get("/me-probe", requireUser, (c) => c.json({ id: c.var.user.id, role: c.var.user.role }))
    .get("/organizer-probe", requireUser, requireRole("organizer"), (c) => c.json({ ok: true }));
  app.route("/", guarded as any);

  it("accepts a minted token with a lowercase bearer scheme", async () => {
    const u = await makeUser("user");
    const res = await app.request("/me-probe", { headers: { authorization: `bearer ${u.token}` } }, testEnv);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: u.id, role: "user" });
  });

  it("refuses a user on an organizer route with 403 and lets an admin through", async () => {
    const u = await makeUser("user");
    const a = await makeUser("admin");
    expect((await app.request("/organizer-probe", { headers: u.auth }, testEnv)).status).toBe(403);
    expect((await app.request("/organizer-probe", { headers: a.auth }, testEnv)).status).toBe(200);
  });

  it("answers 401 without a token", async () => {
    const res = await app.request("/me-probe", {}, testEnv);
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.code).toBe("UNAUTHENTICATED");
  });
});

describe("test isolation", () => {
  it("gives this file a database of its own on a server, or a freshly reset one on PGlite", async () => {
    const { rows } = await withDb((db) => db.execute(sql`select current_database() as name, (select count(*) from users) as users`));
    const row = rows[0] as { name: string; users: string };
    if (inject("dbIsolation") === "database") {
      expect(row.name).toMatch(new RegExp(`^${inject("fileDatabasePrefix")}_f_`));
    } else {
      expect(row.name).toBe("postgres");
    }
    // Only the users this file made so far exist here.
    expect(Number(row.users)).toBeLessThanOrEqual(4);
  });
});
