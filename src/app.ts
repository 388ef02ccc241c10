import { HTTPException } from "hono/http-exception";
import type { Context } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "./env";
import { ConfigError, parseConfig } from "./env";
import { lazyDb, isConnectionError } from "./db/client";
import { AppError, errorBody } from "./lib/errors";
import { requestIdFrom } from "./lib/ids";
import { limitPublicReads } from "./lib/rate-limit";
import { writeRequestMetric } from "./lib/metrics";
import { router } from "./lib/openapi";
import { health } from "./routes/health";
import { docs } from "./routes/docs";
import { auth } from "./routes/auth";
import { adminUsers } from "./routes/admin-users";
import { venuesRouter } from "./routes/venues";
import { eventsRouter } from "./routes/events";
import { analytics } from "./routes/analytics";
import { holds } from "./routes/holds";
import { bookingRoutes } from "./routes/bookings";
import { notificationRoutes } from "./routes/notifications";
import { waitlist } from "./routes/waitlist";

export function createApp() {
  const app = router();

  app.use("*", async (c, next) => {
    const started = Date.now();
    const requestId = requestIdFrom(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    const db = lazyDb(c.env);
    c.set("db", db.get);
    let thrown: unknown;
    try {
      c.set("config", parseConfig(c.env));
      await next();
    } catch (e) {
      // Only failures outside any handler land here (e.g. bad config); onError answers them after
      // this finally, so the log takes its status from the error, not from the unset response.
      thrown = e;
      throw e;
    } finally {
      const done = db.close();
      try {
        c.executionCtx.waitUntil(done);
      } catch {
        await done; // no execution context (unit tests through app.request without one)
      }
      logRequest(c, started, thrown === undefined ? c.res.status : toAppError(thrown).status);
    }
  });

  app.use("/v1/*", limitPublicReads);

  app.route("/", health);
  app.route("/", docs);
  app.route("/", auth);
  app.route("/", adminUsers);
  app.route("/", venuesRouter);
  app.route("/", eventsRouter);
  app.route("/", analytics);
  app.route("/", holds);
  app.route("/", bookingRoutes);
  app.route("/", notificationRoutes);
  app.route("/", waitlist);

  app.notFound((c) => {
    const err = new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`);
    return c.json(errorBody(err, c.var.requestId ?? "unknown"), err.status);
  });

  app.onError((e, c) => {
    const err = toAppError(e);
    // Shed load (OVERLOADED) is expected under a storm and must stay cheap: no stack trace per request.
    if (err.status >= 500 && err.code !== "OVERLOADED") {
      console.error(JSON.stringify({ level: "error", requestId: c.var.requestId, code: err.code, error: String(e), stack: e instanceof Error ? e.stack : undefined }));
    }
    for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
    return c.json(errorBody(err, c.var.requestId ?? "unknown"), err.status);
  });

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "Evently API", version: "0.1.0", description: "Ticketing at the edge: events, seat holds, bookings." },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", bearerFormat: "JWT" });

  return app;
}

export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  if (e instanceof HTTPException) {
    if (e.status === 400 && /JSON/i.test(e.message)) return new AppError("BAD_JSON", "The request body is not valid JSON");
    if (e.status === 400) return new AppError("VALIDATION_FAILED", e.message || "Bad request");
    if (e.status === 401) return new AppError("UNAUTHENTICATED", e.message || "Authentication required");
    if (e.status === 413) return new AppError("PAYLOAD_TOO_LARGE", "The request body is too large");
    return new AppError("INTERNAL", e.message || "Request failed");
  }
  if (e instanceof ConfigError) return new AppError("INTERNAL", "Server misconfigured");
  if (isConnectionError(e)) return new AppError("DEPENDENCY_UNAVAILABLE", "Postgres is unavailable, try again shortly", undefined, { "Retry-After": "2" });
  return new AppError("INTERNAL", "Something went wrong on our side");
}

// In production Date.now() advances only across I/O (a Workers timing mitigation), so latencyMs
// is time spent waiting on Postgres, Durable Objects and queues; CPU time is in Workers Observability.
function logRequest(c: Context<AppEnv>, started: number, status: number): void {
  const latencyMs = Date.now() - started;
  const route = routePath(c);
  const colo = (c.req.raw as { cf?: { colo?: string } }).cf?.colo;
  console.log(JSON.stringify({ level: "info", requestId: c.var.requestId, method: c.req.method, route, path: c.req.path, status, latencyMs, colo }));
  writeRequestMetric(c.env, { method: c.req.method, route, status, latencyMs, colo });
}
