import { createRoute, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { bearerToken, requireUser } from "../auth/guards";
import { ACTION_EXTENSION, guarded } from "../auth/org-guard";
import { looksLikeScannerToken, verifyScannerToken } from "../auth/scanner-tokens";
import { AppError } from "../lib/errors";
import { IdempotencyHeaders, errors, json, router } from "../lib/openapi";
import { idempotent } from "../lib/idempotent-request";
import { assertScannerActive, type CheckinActor, checkinKeys, createList, createScanner, listLists, redeemScans, revokeScanner } from "../services/checkin";
import { managedEvent } from "../services/event-access";
import { MAX_CODE_LENGTH } from "../services/ticket-codes";

/** A scanner token (its event only) or an access token (a member of the event's organization or an admin, checked per route). */
const scannerOrUser = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (token && looksLikeScannerToken(token)) {
    const scanner = await verifyScannerToken(c.env, c.var.config, token);
    await assertScannerActive(c.var.db(), scanner);
    c.set("scanner", scanner);
    return next();
  }
  return requireUser(c, next);
});

const actorOf = (v: { scanner?: CheckinActor["scanner"]; user: CheckinActor["user"] }): CheckinActor => (v.scanner ? { scanner: v.scanner } : { user: v.user! });

/** A scanner of this event, a member whose role may check in, or an admin. */
async function assertEventAccess(c: { var: AppEnv["Variables"] }, eventId: string): Promise<void> {
  if (c.var.scanner) {
    if (c.var.scanner.eventId !== eventId) throw new AppError("FORBIDDEN", "This scanner checks in at another event");
    return;
  }
  await managedEvent(c.var.db(), c.var.user, eventId, { action: "checkin.manage" });
}

const EventId = z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) });
const security = [{ bearer: [] }];

const CheckinList = z
  .object({ id: z.string().uuid(), eventId: z.string().uuid(), name: z.string(), ticketTypeIds: z.array(z.string()).nullable(), allowReentry: z.boolean(), createdAt: z.string() })
  .openapi("CheckinList");

const Direction = z.enum(["entry", "exit"]).default("entry");
const Code = z.string().min(1).max(MAX_CODE_LENGTH);
const Nonce = z.string().min(1).max(100).openapi({ description: "The device's id for this scan, unique per device (scanner token, or the signed-in account) and list: the same nonce from the same device again answers the first result again" });

const ScanResult = z
  .object({
    nonce: z.string(),
    result: z.enum(["ok", "already_redeemed", "invalid", "cancelled", "wrong_list"]),
    ticket: z.object({ id: z.string().uuid(), seatId: z.string().nullable(), ticketTypeId: z.string().nullable(), holderName: z.string() }).optional(),
    firstRedeemedAt: z.string().optional(),
  })
  .openapi("ScanResult");

/** Offline scans dated further ahead than this are refused: a scanner's clock may drift, not jump. */
const MAX_CLOCK_AHEAD_MS = 5 * 60_000;

export const checkinRoutes = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events/{id}/checkin-lists",
      tags: ["check-in"],
      security,
      ...guarded("checkin.manage", "event"),
      request: {
        params: EventId,
        headers: IdempotencyHeaders,
        body: {
          content: {
            "application/json": {
              schema: z
                .object({
                  name: z.string().min(1).max(200),
                  ticketTypeIds: z.array(z.string().min(1).max(100)).min(1).max(100).optional().openapi({ description: "Only these ticket types; all types when absent" }),
                  allowReentry: z.boolean().default(false),
                })
                .openapi("CheckinListRequest"),
            },
          },
          required: true,
        },
      },
      responses: { 201: json(CheckinList, "Created"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const eventId = c.req.valid("param").id;
      const body = c.req.valid("json");
      const reply = await idempotent(c.var.db(), c.var.user.id, c.req.valid("header")["idempotency-key"], { route: `POST /v1/events/${eventId}/checkin-lists`, body }, async () => ({
        status: 201,
        body: await createList(c.var.db(), c.var.user, eventId, body),
      }));
      return c.json(reply.body as Awaited<ReturnType<typeof createList>>, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/checkin-lists",
      tags: ["check-in"],
      security,
      middleware: [scannerOrUser] as const,
      [ACTION_EXTENSION]: "checkin.manage",
      request: { params: EventId },
      responses: { 200: json(z.object({ data: z.array(CheckinList) })), ...errors(401, 403, 404) },
    }),
    async (c) => {
      const eventId = c.req.valid("param").id;
      await assertEventAccess(c, eventId);
      return c.json({ data: await listLists(c.var.db(), eventId) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events/{id}/scanners",
      tags: ["check-in"],
      description: "A scanner token can do nothing but check in at this event (and read its lists and keys). It lasts until a day after the event ends, or until the scanner is revoked.",
      security,
      ...guarded("checkin.manage", "event"),
      request: { params: EventId, headers: IdempotencyHeaders, body: { content: { "application/json": { schema: z.object({ name: z.string().min(1).max(200) }).openapi("ScannerRequest") } }, required: true } },
      responses: { 201: json(z.object({ id: z.string().uuid(), eventId: z.string().uuid(), name: z.string(), token: z.string(), expiresAt: z.string() }).openapi("Scanner"), "Created; the token is shown once"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const eventId = c.req.valid("param").id;
      const body = c.req.valid("json");
      const reply = await idempotent(c.var.db(), c.var.user.id, c.req.valid("header")["idempotency-key"], { route: `POST /v1/events/${eventId}/scanners`, body }, async () => ({
        status: 201,
        body: await createScanner(c.env, c.var.config, c.var.db(), c.var.user, eventId, body.name, new Date()),
      }));
      return c.json(reply.body as Awaited<ReturnType<typeof createScanner>>, 201);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/events/{id}/scanners/{scannerId}",
      tags: ["check-in"],
      description: "Revokes a scanner: its token stops working on the next request.",
      security,
      ...guarded("checkin.manage", "event"),
      request: { params: EventId.extend({ scannerId: z.string().uuid().openapi({ param: { name: "scannerId", in: "path" } }) }) },
      responses: { 204: { description: "Revoked" }, ...errors(401, 403, 404) },
    }),
    async (c) => {
      const { id, scannerId } = c.req.valid("param");
      await revokeScanner(c.var.db(), c.var.user, id, scannerId);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/checkin/keys",
      tags: ["check-in"],
      description: "A JWKS of the Ed25519 public keys that verify this event's ticket codes (compact JWS, alg EdDSA, typ evently-ticket) offline.",
      security,
      middleware: [scannerOrUser] as const,
      [ACTION_EXTENSION]: "checkin.manage",
      request: { params: EventId },
      responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("TicketKeys")), ...errors(401, 403, 404) },
    }),
    async (c) => {
      const eventId = c.req.valid("param").id;
      await assertEventAccess(c, eventId);
      return c.json((await checkinKeys(c.env, c.var.db(), eventId)) as { keys: Record<string, unknown>[] }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/checkin/redeem",
      tags: ["check-in"],
      description: "Decided by the event's check-in desk: a code redeems once per list, however many scanners send it at once.",
      security,
      middleware: [scannerOrUser] as const,
      [ACTION_EXTENSION]: "checkin.manage",
      request: { body: { content: { "application/json": { schema: z.object({ listId: z.string().uuid(), code: Code, nonce: Nonce, direction: Direction }).openapi("RedeemRequest") } }, required: true } },
      responses: { 200: json(ScanResult), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const [r] = await redeemScans(c.env, c.var.db(), actorOf(c.var), b.listId, [{ code: b.code, nonce: b.nonce, direction: b.direction, at: null }]);
      return c.json(r, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/checkin/sync",
      tags: ["check-in"],
      description: "Scans an offline scanner made, decided in scan-time order: per list the earliest entry of a code wins, the others answer already_redeemed. Uploading the same scans again answers the same.",
      security,
      middleware: [scannerOrUser] as const,
      [ACTION_EXTENSION]: "checkin.manage",
      request: {
        body: {
          content: {
            "application/json": {
              schema: z
                .object({ listId: z.string().uuid(), scans: z.array(z.object({ code: Code, nonce: Nonce, at: z.string().datetime({ offset: true }), direction: Direction })).min(1).max(500) })
                .openapi("SyncRequest"),
            },
          },
          required: true,
        },
      },
      responses: { 200: json(z.object({ results: z.array(ScanResult) })), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const now = Date.now();
      const scans = b.scans.map((s, i) => {
        const at = Date.parse(s.at);
        if (at > now + MAX_CLOCK_AHEAD_MS) throw new AppError("VALIDATION_FAILED", "A scan is dated in the future", { issues: [{ path: `scans.${i}.at`, message: "more than 5 minutes ahead" }] });
        return { code: s.code, nonce: s.nonce, direction: s.direction, at };
      });
      return c.json({ results: await redeemScans(c.env, c.var.db(), actorOf(c.var), b.listId, scans) }, 200);
    },
  );
