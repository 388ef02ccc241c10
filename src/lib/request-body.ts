import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../app-env";
import { AppError } from "./errors";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const METHODS_WITH_BODY = new Set(["POST", "PUT", "PATCH"]);

export const unsupportedMediaType = () => new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the request body as JSON with Content-Type: application/json");

/**
 * The API speaks JSON only. Checked once, before authentication and routing, so every route answers
 * a form, a text or an untyped body alike (415) and malformed JSON alike (400), whether or not it
 * reads a body. The parsed body is left in Hono's body cache, so the route's validator parses nothing again.
 */
export const jsonBodiesOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!METHODS_WITH_BODY.has(c.req.method) || c.req.raw.body === null) return next();
  // Only middleware (method ALL) matched: no such route, and 404 says more than 415 would.
  if (matchedRoutes(c).every((r) => r.method === "ALL")) return next();
  const bytes = await c.req.arrayBuffer();
  if (bytes.byteLength === 0) return next();
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim();
  if (!JSON_MEDIA_TYPE.test(mediaType)) throw unsupportedMediaType();
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new AppError("MALFORMED_JSON", "The request body is not valid JSON");
  }
  c.req.bodyCache.json = Promise.resolve(parsed);
  return next();
};
