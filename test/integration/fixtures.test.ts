import { describe, expect, it } from "vitest";
import { Hono } from "hono";
import { makeUser, testEnv } from "../helpers/fixtures";
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
