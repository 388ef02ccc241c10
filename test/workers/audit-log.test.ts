import { describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { auditLog } from "../../src/db/schema";
import { inventoryFor } from "../../src/services/booking-saga";
import { call, makeUser, testEnv, withDb } from "../helpers/fixtures";
import { makeEvent, makePublished, makeVenue, publish } from "../helpers/catalogue";
import { makeReservedEventOnSale, stepsOf } from "../helpers/booking-fixtures";
import { eventually } from "../helpers/wait";

// Every change of consequence leaves one audit row: who, what, on which subject.

const rowsOf = (action: string, subjectId: string) =>
  withDb((db) => db.select().from(auditLog).where(and(eq(auditLog.action, action), eq(auditLog.subjectId, subjectId))));

describe("audit log", () => {
  it("records a venue's creation, change and deletion with the organizer as actor", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    expect((await call(`/v1/venues/${v.id}`, { method: "PATCH", headers: org.auth, json: { name: "Big hall" } })).status).toBe(200);
    expect((await call(`/v1/venues/${v.id}`, { method: "DELETE", headers: org.auth })).status).toBe(204);

    for (const action of ["venue.created", "venue.updated", "venue.deleted"]) {
      const rows = await rowsOf(action, v.id);
      expect(rows, action).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actorId: org.id, detail: expect.objectContaining({ actorRole: "organizer" }) });
    }
    expect((await rowsOf("venue.updated", v.id))[0].detail).toMatchObject({ fields: ["name"] });
  });

  it("records publishing once, even when publish is repeated", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const e = await makeEvent(org, v.id);
    expect((await publish(org, e.id)).status).toBe(200);
    expect((await publish(org, e.id)).status).toBe(200);
    const rows = await rowsOf("event.published", e.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actorId: org.id, detail: { actorRole: "organizer" } });
  });

  it("records an admin cancelling an organizer's event with the admin as actor", async () => {
    const org = await makeUser("organizer");
    const admin = await makeUser("admin");
    const v = await makeVenue(org);
    const e = await makePublished(org, v.id);
    expect((await call(`/v1/events/${e.id}/cancel`, { method: "POST", headers: admin.auth })).status).toBe(202);
    const rows = await rowsOf("event.cancelled", e.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actorId: admin.id, detail: { actorRole: "admin", from: "published" } });
  });

  it("records a booking's cancellation by its owner and its refund by the saga", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const h = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds: ["A-1-1"] }, null);
    if (!h.ok) throw new Error(h.message);
    const { id } = (await (await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: h.value.id } })).json()) as { id: string };
    await eventually(async () => (await stepsOf(id))["notify-confirmed"]?.status === "done", 20_000, "booking confirmed");
    expect((await call(`/v1/bookings/${id}/cancel`, { method: "POST", headers: user.auth })).status).toBe(202);
    await eventually(async () => (await stepsOf(id))["notify-refunded"]?.status === "done", 20_000, "refund told");

    expect(await rowsOf("booking.cancelled", id)).toMatchObject([{ actorId: user.id, detail: { actorRole: "user", ownerId: user.id, amountCents: 5000 } }]);
    expect(await rowsOf("booking.refunded", id)).toMatchObject([{ actorId: null, detail: { status: "cancelled", amountCents: 5000, currency: "EUR" } }]);
  });

  it("records an admin's change to a user's role", async () => {
    const admin = await makeUser("admin");
    const target = await makeUser();
    expect((await call(`/v1/admin/users/${target.id}`, { method: "PATCH", headers: admin.auth, json: { role: "organizer" } })).status).toBe(200);
    expect(await rowsOf("admin.user_updated", target.id)).toMatchObject([{ actorId: admin.id, detail: { from: { role: "user" }, to: { role: "organizer" } } }]);
  });
});
