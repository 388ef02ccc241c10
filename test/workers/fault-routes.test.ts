import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { makeUser, testEnv } from "../helpers/fixtures";

// The soak's fault routes (src/routes/faults.ts) exist only when the Worker runs with
// EVENTLY_FAULTS=on; the test Worker, like production, runs without it.
const withFaults = { ...testEnv, EVENTLY_FAULTS: "on" };
const sandbox = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));
const charge = (key: string) => sandbox().charge({ idempotencyKey: key, reference: key, amountCents: 100, currency: "EUR", paymentMethod: "pm_card_ok" });

const routes = (eventId: string, bookingId: string) => [
  ["POST", `/_local/faults/inventory/${eventId}/abort`, undefined],
  ["POST", "/_local/faults/payments/outage", { on: true }],
  ["GET", "/_local/faults/payments/ledger", undefined],
  ["POST", `/_local/faults/bookings/${bookingId}/redeliver`, undefined],
] as const;

describe("the soak's fault routes", () => {
  it("answer 404 NOT_FOUND like any unknown path without EVENTLY_FAULTS, even for an admin, and switch nothing", async () => {
    const admin = await makeUser("admin");
    for (const [method, path, body] of routes(crypto.randomUUID(), crypto.randomUUID())) {
      const res = await createApp().request(path, { method, headers: { ...admin.auth, "content-type": "application/json" }, body: body && JSON.stringify(body) }, testEnv);
      expect(res.status, `${method} ${path}`).toBe(404);
      const json = (await res.json()) as { error: { code: string; message: string; requestId: string } };
      expect(json.error).toMatchObject({ code: "NOT_FOUND", message: `No route for ${method} ${path}` });
      expect(json.error.requestId).toBe(res.headers.get("x-request-id"));
    }
    // The outage request above did not reach the card network.
    expect(await charge(`fault-off-${crypto.randomUUID()}`)).toMatchObject({ ok: true, value: { status: "succeeded" } });
  });

  it("with EVENTLY_FAULTS=on let an admin take the card network down and up and read its ledger", async () => {
    const admin = await makeUser("admin");
    const post = (on: boolean) =>
      createApp().request("/_local/faults/payments/outage", { method: "POST", headers: { ...admin.auth, "content-type": "application/json" }, body: JSON.stringify({ on }) }, withFaults);
    expect((await post(true)).status).toBe(200);
    expect(await charge(`fault-on-${crypto.randomUUID()}`)).toMatchObject({ ok: false, code: "UNAVAILABLE" });
    expect((await post(false)).status).toBe(200);
    const key = `fault-back-${crypto.randomUUID()}`;
    expect(await charge(key)).toMatchObject({ ok: true, value: { status: "succeeded" } });
    const ledger = await createApp().request("/_local/faults/payments/ledger", { headers: admin.auth }, withFaults);
    expect(ledger.status).toBe(200);
    const entries = ((await ledger.json()) as { data: { idempotencyKey: string; status: string }[] }).data;
    expect(entries.find((e) => e.idempotencyKey === key)).toMatchObject({ status: "succeeded" });
  });

  it("with EVENTLY_FAULTS=on still refuse anyone but an admin", async () => {
    const organizer = await makeUser("organizer");
    const res = await createApp().request("/_local/faults/payments/outage", { method: "POST", headers: { ...organizer.auth, "content-type": "application/json" }, body: JSON.stringify({ on: true }) }, withFaults);
    expect(res.status).toBe(403);
    const anonymous = await createApp().request("/_local/faults/payments/ledger", {}, withFaults);
    expect(anonymous.status).toBe(401);
    expect(await charge(`fault-403-${crypto.randomUUID()}`)).toMatchObject({ ok: true });
  });

  it("an inventory object refuses to abort unless its own Worker runs with EVENTLY_FAULTS=on", async () => {
    const admin = await makeUser("admin");
    const res = await createApp().request(`/_local/faults/inventory/${crypto.randomUUID()}/abort`, { method: "POST", headers: admin.auth }, withFaults);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe("The object refused the fault");
  });
});
