import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { bookings } from "../../src/db/schema";
import type { Env } from "../../src/env";
import { PaymentUnavailableError, sandboxProvider } from "../../src/services/payments";
import { makeReservedEventOnSale } from "../helpers/booking-fixtures";
import { call, expectError, makeUser, testEnv, withDb } from "../helpers/fixtures";

// wrangler.toml as shipped says ENVIRONMENT = "production"; the test Worker overrides it with "test".
const production = (extra: Partial<Env> = {}) => ({ ...testEnv, ENVIRONMENT: "production", ...extra }) as Env;

async function request(env: Env, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await createApp().request(path, init, env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const network = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));
const charge = (ref: string) => ({ idempotencyKey: `charge:${ref}`, reference: ref, amountCents: 5000, currency: "EUR", paymentMethod: "pm_card_ok" });

describe("deploying as-is gives no tickets away", () => {
  it("a booking in a Worker configured for production answers 503 DEPENDENCY_UNAVAILABLE, takes no booking and leaves the hold held", async () => {
    const ev = await makeReservedEventOnSale();
    const buyer = await makeUser();
    const held = await call(`/v1/events/${ev.eventId}/holds`, { method: "POST", headers: buyer.auth, json: { seatIds: [ev.seatIds[0]] } });
    expect(held.status).toBe(201);
    const hold: any = await held.json();
    const book = (env: Env) =>
      request(env, "/v1/bookings", { method: "POST", headers: { ...buyer.auth, "content-type": "application/json" }, body: JSON.stringify({ holdId: hold.id }) });

    const refused = await book(production());
    expect(refused.status).toBe(503);
    const body: any = await refused.json();
    expectError(body, "DEPENDENCY_UNAVAILABLE");
    expect(body.error.message).toMatch(/payments are not configured/i);
    expect(await withDb((db) => db.select().from(bookings).where(eq(bookings.holdId, hold.id)))).toEqual([]);
    const seats: any = await (await call(`/v1/events/${ev.eventId}/seats`)).json();
    expect(seats.seats.find((s: any) => s.id === ev.seatIds[0]).status).toBe("held");

    // The explicit override (a staging deployment) takes the booking.
    expect((await book(production({ ALLOW_SANDBOX_PAYMENTS: "true" }))).status).toBe(202);
  });

  it("the sandbox card network charges nothing in a Worker configured for production or not saying what it is", async () => {
    for (const env of [production(), { ...testEnv, ENVIRONMENT: undefined } as unknown as Env]) {
      const ref = crypto.randomUUID();
      await expect(sandboxProvider(env).charge(charge(ref))).rejects.toBeInstanceOf(PaymentUnavailableError);
      expect(await network().statement(ref)).toEqual([]);
    }
    const ref = crypto.randomUUID();
    expect((await sandboxProvider(production({ ALLOW_SANDBOX_PAYMENTS: "true" })).charge(charge(ref))).status).toBe("succeeded");
  });
});

describe("the placeholder secret of .dev.vars.example", () => {
  it("is refused: every request answers 500 'Server misconfigured' in the error shape, naming no secret", async () => {
    const env = { ...testEnv, JWT_SECRET: "change-me-to-32-random-bytes-base64" } as Env;
    for (const path of ["/health", "/v1/events", "/v1/me"]) {
      const res = await request(env, path);
      expect(res.status).toBe(500);
      const text = await res.text();
      const body = JSON.parse(text);
      expectError(body, "INTERNAL");
      expect(body.error.message).toBe("Server misconfigured");
      expect(text).not.toMatch(/JWT|secret|change-me/i);
    }
  });
});

describe("keys for secrets at rest (SECRETS_KEYS)", () => {
  it("a Worker configured for production without them refuses to serve: 500 'Server misconfigured', naming no secret", async () => {
    for (const SECRETS_KEYS of [undefined, "", "  "]) {
      const res = await request(production({ SECRETS_KEYS }), "/v1/events");
      expect(res.status, String(SECRETS_KEYS)).toBe(500);
      const text = await res.text();
      expectError(JSON.parse(text), "INTERNAL");
      expect(text).not.toMatch(/SECRETS|secret|key/i);
    }
    expect((await request(production(), "/v1/events")).status).toBe(200);
  });

  it("malformed keys are refused in any environment (a short key, a missing id, a repeated id)", async () => {
    const key = btoa(String.fromCharCode(...new Uint8Array(32)));
    for (const SECRETS_KEYS of ["k1:c2hvcnQ=", key, `k1:${key},k1:${key}`]) {
      expect((await request({ ...testEnv, SECRETS_KEYS } as Env, "/v1/events")).status, SECRETS_KEYS).toBe(500);
    }
    expect((await request({ ...testEnv, SECRETS_KEYS: `k2:${key},k1:${key}` } as Env, "/v1/events")).status).toBe(200);
  });
});
