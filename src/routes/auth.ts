import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { requireUser } from "../auth/guards";
import { PASSWORD_MAX, passwordProblem } from "../auth/passwords";
import { publicJwks } from "../auth/tokens";
import type { AppEnv } from "../app-env";
import { AppError } from "../lib/errors";
import { errors, json, router } from "../lib/openapi";
import { clientIp, enforceRateLimit, knownClientIp } from "../lib/rate-limit";
import { type AuthDeps, endSession, listSessions, login, refresh, refreshFamilyOf, register, revokeOwnSession } from "../services/auth";
import { findUserById, normalizeEmail, toPublicUser } from "../services/users";

// Periods of the [[ratelimits]] bindings in wrangler.toml: the Retry-After of a 429.
const AUTH_LIMIT_PERIOD_SECONDS = 60;

export const User = z
  .object({
    id: z.string().uuid(),
    email: z.string(),
    name: z.string(),
    role: z.enum(["user", "organizer", "admin"]),
    disabled: z.boolean(),
    createdAt: z.string(),
  })
  .openapi("User");

const SessionResponse = z
  .object({
    user: User,
    accessToken: z.string(),
    refreshToken: z.string(),
    expiresIn: z.number().int().openapi({ description: "Seconds until the access token expires" }),
  })
  .openapi("Session");

const Password = z
  .string()
  .superRefine((value, ctx) => {
    const problem = passwordProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: `password ${problem}` });
  })
  .openapi({ example: "correct horse battery staple" });

// Strict: a `role` (or any other field) in the body is refused, never silently granted.
const RegisterBody = z
  .strictObject({
    email: z.string().trim().max(254).email().openapi({ example: "ada@example.com" }),
    password: Password,
    name: z.string().trim().min(1).max(100).openapi({ example: "Ada" }),
  })
  .openapi("RegisterRequest");

const LoginBody = z
  .object({
    email: z.string().trim().min(1).max(254),
    // Generous upper bound in UTF-16 units; the real rule applies when a password is set.
    password: z.string().min(1).max(PASSWORD_MAX * 4),
  })
  .openapi("LoginRequest");

const RefreshBody = z.object({ refreshToken: z.string().min(1).max(4096) }).openapi("RefreshRequest");

const SessionInfo = z
  .object({ id: z.string(), createdAt: z.string(), lastRefreshedAt: z.string(), expiresAt: z.string(), current: z.boolean() })
  .openapi("SessionInfo");

const jsonBody = <T extends z.ZodType>(schema: T) => ({ body: { required: true, content: { "application/json": { schema } } } });

function deps(c: Context<AppEnv>): AuthDeps {
  return { db: c.var.db(), env: c.env, config: c.var.config, ip: clientIp((n) => c.req.header(n)) };
}

/**
 * Per address, before the body is even parsed: every credential request from an address counts,
 * malformed ones included, so probing costs the prober, never our CPU.
 */
const limitByIp = createMiddleware<AppEnv>(async (c, next) => {
  await enforceRateLimit(c.var.config, c.env.AUTH_IP_LIMITER, `ip:${clientIp((n) => c.req.header(n))}`, AUTH_LIMIT_PERIOD_SECONDS, "attempts from this address");
  await next();
});

/**
 * Per account and address, before any password work: the expensive part is what gets limited. The
 * address is part of the key, so a stranger's failed guesses lock out only the stranger's address,
 * never the owner logging in from their own (the per-address limit above bounds any one guesser).
 */
function limitByEmail(c: Context<AppEnv>, email: string): Promise<void> {
  const key = `email:${normalizeEmail(email)}|ip:${clientIp((n) => c.req.header(n))}`;
  return enforceRateLimit(c.var.config, c.env.AUTH_EMAIL_LIMITER, key, AUTH_LIMIT_PERIOD_SECONDS, "attempts for this account from this address");
}

/** Per address on refresh, before the token is looked up: cycling many stolen tokens is slowed too. */
const limitRefreshByIp = createMiddleware<AppEnv>(async (c, next) => {
  const ip = knownClientIp((n) => c.req.header(n));
  if (ip) await enforceRateLimit(c.var.config, c.env.REFRESH_IP_LIMITER, `refresh-ip:${ip}`, AUTH_LIMIT_PERIOD_SECONDS, "refreshes from this address");
  await next();
});

export const auth = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/register",
      tags: ["identity"],
      summary: "Create an account (role is always user)",
      middleware: [limitByIp] as const,
      request: jsonBody(RegisterBody),
      responses: { 201: json(SessionResponse, "Registered and logged in"), ...errors(400, 409, 429) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      await limitByEmail(c, body.email);
      return c.json(await register(deps(c), body), 201);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/login",
      tags: ["identity"],
      summary: "Log in with email and password",
      middleware: [limitByIp] as const,
      request: jsonBody(LoginBody),
      responses: { 200: json(SessionResponse, "Logged in"), ...errors(400, 401, 429) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      await limitByEmail(c, body.email);
      return c.json(await login(deps(c), body), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/refresh",
      tags: ["identity"],
      summary: "Trade a refresh token for a new pair (the old one is spent)",
      middleware: [limitRefreshByIp] as const,
      request: jsonBody(RefreshBody),
      responses: { 200: json(SessionResponse, "New token pair"), ...errors(400, 401, 429) },
    }),
    async (c) => {
      const { refreshToken } = c.req.valid("json");
      const family = refreshFamilyOf(refreshToken);
      if (family) await enforceRateLimit(c.var.config, c.env.REFRESH_LIMITER, `family:${family}`, AUTH_LIMIT_PERIOD_SECONDS, "refreshes of this session");
      return c.json(await refresh(deps(c), refreshToken), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/logout",
      tags: ["identity"],
      summary: "End this session: its access and refresh tokens stop working at once",
      middleware: [requireUser] as const,
      security: [{ bearer: [] }],
      responses: { 204: { description: "Logged out" }, ...errors(401) },
    }),
    async (c) => {
      await endSession(deps(c), c.var.user.id, c.var.user.sid, "auth.logout");
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/me",
      tags: ["identity"],
      summary: "The caller's account",
      middleware: [requireUser] as const,
      security: [{ bearer: [] }],
      responses: { 200: json(User, "The account"), ...errors(401) },
    }),
    async (c) => {
      const user = await findUserById(c.var.db(), c.var.user.id);
      if (!user) throw new AppError("UNAUTHENTICATED", "This account no longer exists");
      return c.json(toPublicUser(user), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/me/sessions",
      tags: ["identity"],
      summary: "The caller's live sessions (one per login)",
      middleware: [requireUser] as const,
      security: [{ bearer: [] }],
      responses: { 200: json(z.object({ data: z.array(SessionInfo), nextCursor: z.null() }), "Sessions"), ...errors(401) },
    }),
    async (c) => c.json({ data: await listSessions(deps(c), c.var.user.id, c.var.user.sid), nextCursor: null }, 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/me/sessions/{id}",
      tags: ["identity"],
      summary: "End one of the caller's sessions (log out another device)",
      middleware: [requireUser] as const,
      security: [{ bearer: [] }],
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: { 204: { description: "Session ended" }, ...errors(401, 404) },
    }),
    async (c) => {
      await revokeOwnSession(deps(c), c.var.user.id, c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/.well-known/jwks.json",
      tags: ["identity"],
      summary: "Public keys of the access tokens (when asymmetric keys are configured)",
      responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), "JSON Web Key Set"), ...errors(404) },
    }),
    async (c) => {
      const keys = await publicJwks(c.env);
      if (keys.length === 0) throw new AppError("NOT_FOUND", "This deployment signs with a shared secret (HS256) and publishes no keys");
      c.header("Cache-Control", "public, max-age=300");
      return c.json({ keys: keys as Record<string, unknown>[] }, 200);
    },
  );
