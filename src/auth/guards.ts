import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { AppError } from "../lib/errors";
import { checkAccess } from "../../durable-objects/user-sessions/client";
import { type AuthUser, type Role, unauthenticated, verifyAccessToken } from "./tokens";

/** `Authorization: Bearer <token>`; the scheme name is case-insensitive (RFC 7235). */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^bearer[ ]+([^\s]+)\s*$/i.exec(header);
  if (!m) throw unauthenticated("Use the Bearer authorization scheme");
  return m[1];
}

async function authenticate(c: Parameters<Parameters<typeof createMiddleware<AppEnv>>[0]>[0]): Promise<AuthUser | null> {
  const token = bearerToken(c.req.header("authorization"));
  if (token === null) return null;
  const claims = await verifyAccessToken(c.env, c.var.config, token);
  // Signature checks cannot see a logout or a disabled account; the user's sessions object can.
  const access = await checkAccess(c.env, claims);
  if (!access.ok) throw unauthenticated(access.message);
  return { id: claims.sub, role: claims.role, sid: claims.sid, jti: claims.jti, exp: claims.exp };
}

export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const user = await authenticate(c);
  if (!user) throw unauthenticated("Authentication required");
  c.set("user", user);
  await next();
});

/** Authenticates when a token is present (a bad one is still 401); anonymous otherwise. */
export const optionalUser = createMiddleware<AppEnv>(async (c, next) => {
  const user = await authenticate(c);
  if (user) c.set("user", user);
  await next();
});

/** Must run after `requireUser`. Admins pass every role check. */
export function requireRole(...roles: Role[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const user = c.var.user;
    if (!user) throw unauthenticated("Authentication required");
    if (user.role !== "admin" && !roles.includes(user.role)) {
      throw new AppError("FORBIDDEN", `This needs the ${roles.join(" or ")} role`);
    }
    await next();
  });
}

/** Objects of other users answer 404, so ids cannot be probed. Admins see everything. */
export function assertOwner(user: AuthUser, ownerId: string, what = "resource"): void {
  if (user.role !== "admin" && user.id !== ownerId) throw new AppError("NOT_FOUND", `No such ${what}`);
}

/** For organizer-owned objects where existence is public (venues, events): 403, not 404. */
export function assertManager(user: AuthUser, ownerId: string): void {
  if (user.role !== "admin" && user.id !== ownerId) throw new AppError("FORBIDDEN", "Only the owner or an admin may change this");
}
