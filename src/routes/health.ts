import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { AppError } from "../lib/errors";
import { errors, json, router } from "../lib/openapi";
import { TimeoutError, withTimeout } from "../lib/timeout";
import { rollupState } from "../services/analytics";
import { inventory } from "../../durable-objects/inventory/client";

const Check = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional().openapi({ description: '"unavailable" or "did not answer in time"; the detail is in the logs' }) });
const Rollup = z
  .object({ refreshedAt: z.string(), ageSeconds: z.number(), durationMs: z.number() })
  .nullable()
  .openapi({ description: "Informational: the analytics rollup the cron rebuilds every 5 minutes; an age far above 300 s means the cron is not running" });
const Ready = z
  .object({ status: z.literal("ready"), checks: z.object({ postgres: Check, durableObject: Check }), analyticsRollup: Rollup.optional() })
  .openapi("Ready");

const CHECK_TIMEOUT_MS = 2_500;

/** A failed check shows one of these words; the driver's own message (hosts, ports, users) goes to the logs only. */
const CHECK_FAILURES = { timeout: "did not answer in time", error: "unavailable" } as const;

async function timed(what: string, fn: () => Promise<unknown>): Promise<z.infer<typeof Check>> {
  const started = Date.now();
  try {
    await withTimeout(fn(), CHECK_TIMEOUT_MS, what);
    return { ok: true, latencyMs: Date.now() - started };
  } catch (e) {
    const cause = e instanceof Error && e.cause !== undefined ? String(e.cause) : undefined;
    console.error(JSON.stringify({ level: "error", msg: "readiness check failed", check: what, error: String(e), cause }));
    return { ok: false, latencyMs: Date.now() - started, error: e instanceof TimeoutError ? CHECK_FAILURES.timeout : CHECK_FAILURES.error };
  }
}

export const health = router()
  .openapi(
    createRoute({ method: "get", path: "/health", tags: ["operations"], responses: { 200: json(z.object({ status: z.literal("ok") }), "Alive") } }),
    (c) => c.json({ status: "ok" as const }, 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/health/ready",
      tags: ["operations"],
      responses: { 200: json(Ready, "Postgres and a Durable Object answered"), ...errors(503) },
    }),
    async (c) => {
      const [postgres, durableObject] = await Promise.all([
        timed("Postgres", () => c.var.db().execute(sql`select 1`)),
        timed("Durable Object", async () => {
          const pong = await inventory(c.env, "__health__").ping();
          if (!pong.ok) throw new Error("ping answered not ok");
        }),
      ]);
      if (!postgres.ok || !durableObject.ok) {
        const down = [!postgres.ok && "Postgres", !durableObject.ok && "Durable Object"].filter(Boolean).join(" and ");
        throw new AppError("DEPENDENCY_UNAVAILABLE", `Not ready: ${down} unavailable`, { checks: { postgres, durableObject } }, { "Retry-After": "5" });
      }
      // Never fails readiness: stale analytics do not stop anyone from buying a ticket.
      const rollup = await withTimeout(rollupState(c.var.db()), CHECK_TIMEOUT_MS, "rollup state").catch(() => undefined);
      const analyticsRollup = rollup && {
        refreshedAt: rollup.refreshedAt,
        ageSeconds: Math.round((Date.now() - Date.parse(rollup.refreshedAt)) / 1000),
        durationMs: rollup.durationMs,
      };
      return c.json({ status: "ready" as const, checks: { postgres, durableObject }, analyticsRollup }, 200);
    },
  );
