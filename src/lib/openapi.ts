import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { AppError } from "./errors";

/** Every router is an OpenAPIHono whose zod failures become the one VALIDATION_FAILED error. */
export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new AppError("VALIDATION_FAILED", "The request is not valid", {
          issues: result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message, code: i.code })),
        });
      }
    },
  });
}

export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "VALIDATION_FAILED" }),
      message: z.string(),
      requestId: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

/** OpenAPI response entries for the error statuses a route can answer. */
export function errors(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: "Error", content: { "application/json": { schema: ErrorResponse } } }]),
  );
}

export function json<T extends z.ZodType>(schema: T, description = "OK") {
  return { description, content: { "application/json": { schema } } };
}

/** The optional `Idempotency-Key` of a POST that creates something (see idempotent-request.ts). */
export const IdempotencyHeaders = z.object({
  "idempotency-key": z.string().min(1).max(200).optional().openapi({ description: "Retrying with the same key and body replays the first answer; while the first is still running, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After" }),
});
