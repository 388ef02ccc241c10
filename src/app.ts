import { HTTPException } from "hono/http-exception";
import type { Context } from "hono";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { routePath } from "hono/route";
import type { AppEnv } from "./app-env";
import { ConfigError, parseConfig } from "./env";
import { lazyDb, isConnectionError } from "./db/client";
import { AppError, errorBody } from "./lib/errors";
import { requestIdFrom } from "./lib/ids";
import { limitPublicReads } from "./lib/rate-limit";
import { jsonBodiesOnly, unsupportedMediaType } from "./lib/request-body";
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
import { products } from "./routes/products";
import { faults } from "./routes/faults";
import { onSale } from "./routes/onsale";
import { ticketRoutes } from "./routes/tickets";
import { checkinRoutes } from "./routes/checkin";
import { webhookRoutes } from "./routes/webhooks";
import { exportRoutes } from "./routes/exports";
import { orgRoutes } from "./routes/orgs";
import { paymentRoutes } from "./routes/payments";

export function createApp() {
  const app = router();

  app.use("*", async (c, next) => {
    const started = Date.now();
    const requestId = requestIdFrom(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    const db = lazyDb(c.env);
    c.set("db", db.get);
    // The Pool's close (below, in waitUntil) waits for kept work, so the request's waitUntil covers it.
    c.set("keep", db.keep);
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
  // Browsers on the origins of CORS_ORIGINS may call the API; bearer tokens, not cookies, so no credentials.
  app.use(
    "*",
    cors({
      origin: (origin, c: Context<AppEnv>) => (c.var.config.corsOrigins.includes(origin) ? origin : null),
      allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
      allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "X-Request-Id"],
      exposeHeaders: ["X-Request-Id", "Retry-After", "ETag", "WWW-Authenticate", "X-Cache"],
      maxAge: 600,
    }),
  );
  // An API answers JSON that nothing should render, frame or sniff; a page of ours (/docs) sets its own CSP.
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      xFrameOptions: "DENY",
      overwrite: false,
    }),
  );
  app.use("*", jsonBodiesOnly);

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
  app.route("/", onSale);
  app.route("/", products);
  app.route("/", ticketRoutes);
  app.route("/", checkinRoutes);
  app.route("/", webhookRoutes);
  app.route("/", exportRoutes);
  app.route("/", orgRoutes);
  app.route("/", paymentRoutes);
  // Answers 404 unless EVENTLY_FAULTS=on (local soak only).
  app.route("/", faults);

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

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.get("/openapi.json", (c) => {
    const doc = app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: { title: "Evently API", version: "0.1.0", description: "Ticketing at the edge: events, seat holds, bookings." },
    });
    return c.json(withBodyErrors(doc));
  });

  return app;
}

type OpenApiDocument = ReturnType<ReturnType<typeof router>["getOpenAPI31Document"]>;

/** jsonBodiesOnly answers for every route that takes a body, so the document lists its two errors there. */
function withBodyErrors(doc: OpenApiDocument): OpenApiDocument {
  const error = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const method of ["post", "put", "patch"] as const) {
      const op = ops?.[method];
      if (!op) continue;
      op.responses ??= {};
      op.responses["400"] ??= error("VALIDATION_FAILED or MALFORMED_JSON");
      op.responses["415"] ??= error("UNSUPPORTED_MEDIA_TYPE: a request body that is not JSON");
    }
  }
  return doc;
}

const INTERNAL_MESSAGE = "Something went wrong on our side";

/** The error a client sees. An INTERNAL error's own message is for the logs only (onError logs it). */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e.code === "INTERNAL" && e.message !== INTERNAL_MESSAGE ? new AppError("INTERNAL", INTERNAL_MESSAGE) : e;
  if (e instanceof HTTPException) {
    if (e.status === 400 && /JSON/i.test(e.message)) return new AppError("MALFORMED_JSON", "The request body is not valid JSON");
    if (e.status === 400) return new AppError("VALIDATION_FAILED", e.message || "Bad request");
    if (e.status === 401) return new AppError("UNAUTHENTICATED", e.message || "Authentication required");
    if (e.status === 413) return new AppError("PAYLOAD_TOO_LARGE", "The request body is too large");
    if (e.status === 415) return unsupportedMediaType();
    return new AppError("INTERNAL", INTERNAL_MESSAGE);
  }
  if (e instanceof ConfigError) return new AppError("INTERNAL", "Server misconfigured");
  // drizzle wraps what a query threw (a busy database's 503 included) in its own error: the cause decides.
  const cause = (e as { cause?: unknown } | null)?.cause;
  if (cause instanceof AppError && cause.code === "DEPENDENCY_UNAVAILABLE") return cause;
  if (isConnectionError(e)) return new AppError("DEPENDENCY_UNAVAILABLE", "Postgres is unavailable, try again shortly", undefined, { "Retry-After": "2" });
  return new AppError("INTERNAL", INTERNAL_MESSAGE);
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
