// Worker entry for bench/auth.ts only (never deployed): the real app plus probes that isolate
// the cost of each step of authentication inside workerd.
import { createApp } from "../src/app";
import { bearerToken, requireUser } from "../src/auth/guards";
import { hashPassword } from "../src/auth/passwords";
import { signAccessToken, verifyAccessToken } from "../src/auth/tokens";
import type { Env } from "../src/env";

export { UserSessions } from "../durable-objects/user-sessions/object";

const app = createApp();

app.get("/bench/noop", (c) => c.json({ ok: true }));
app.get("/bench/token", async (c) => {
  const { token } = await signAccessToken(c.env, c.var.config, { id: c.req.query("user") ?? crypto.randomUUID(), role: "user" }, crypto.randomUUID());
  return c.json({ token });
});
// Signature and claims only: what authentication costs without the revocation check.
app.get("/bench/verify", async (c) => {
  const claims = await verifyAccessToken(c.env, c.var.config, bearerToken(c.req.header("authorization")) ?? "");
  return c.json({ sub: claims.sub });
});
// The real guard: verify plus the UserSessions revocation check.
app.get("/bench/guard", requireUser, (c) => c.json({ sub: c.var.user.id }));
app.post("/bench/hash", (c) => c.json({ hash: hashPassword("a benchmark password") }));

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
