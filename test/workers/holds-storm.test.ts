import { beforeAll, describe, expect, it } from "vitest";
import type { TestUser } from "../helpers/fixtures";
import { callApp, holdAnswered, makeUsers, publishedEvent, rng } from "../helpers/inventory";

const USERS = 200;
const SEEDS = [1, 7, 42];
let users: TestUser[];

beforeAll(async () => {
  users = await makeUsers(USERS);
});

/** Every user sends one hold at once; a shed one is sent again, so each ends with the object's answer. */
async function storm(eventId: string, bodies: unknown[]) {
  return Promise.all(bodies.map((json, i) => holdAnswered(eventId, users[i].auth, json)));
}

describe("storm: 200 users race for 50 reserved seats in overlapping sets of 1-4", () => {
  for (const seed of SEEDS) {
    it(`never gives a seat to two holds and answers every loser 409 with the taken seats (seed ${seed})`, async () => {
      const ev = await publishedEvent({ layout: [1, 5, 10], maxSeatsPerUser: 4 });
      const ids = ev.init.seats.map((s) => s.id);
      const random = rng(seed);
      const requests = users.map(() => {
        const k = 1 + Math.floor(random() * 4);
        const start = Math.floor(random() * (ids.length - k + 1));
        return { seatIds: ids.slice(start, start + k) };
      });
      const results = await storm(ev.id, requests);

      const owner = new Map<string, string>();
      let heldSeats = 0;
      results.forEach((r, i) => {
        expect([201, 409], JSON.stringify(r.body)).toContain(r.status);
        if (r.status !== 201) return;
        for (const s of r.body.seats) {
          expect(owner.has(s.id), `seat ${s.id} held twice`).toBe(false);
          owner.set(s.id, r.body.id);
        }
        expect(r.body.seats.map((s: any) => s.id)).toEqual(requests[i].seatIds);
        heldSeats += r.body.quantity;
      });
      results.forEach((r, i) => {
        if (r.status !== 409) return;
        expect(r.body.error.code).toBe("SEAT_UNAVAILABLE");
        const named: string[] = r.body.error.details.seatIds;
        expect(named.length).toBeGreaterThan(0);
        for (const id of named) {
          expect(requests[i].seatIds).toContain(id);
          expect(owner.has(id), `${id} was refused but nobody holds it`).toBe(true);
        }
      });
      const snap: any = await (await callApp(`/v1/events/${ev.id}/seats`)).json();
      for (const s of snap.seats) expect(s.status).toBe(owner.has(s.id) ? "held" : "available");
      expect(snap.availability).toEqual({ capacity: 50, available: 50 - heldSeats, held: heldSeats, booked: 0 });
      expect(results.filter((r) => r.status === 201).length).toBeGreaterThan(0);
    });
  }
});

describe("storm: 200 users race for 50 general admission tickets in quantities of 1-4", () => {
  for (const seed of SEEDS) {
    it(`sells exactly what was available and refuses only requests larger than what is left (seed ${seed})`, async () => {
      const ev = await publishedEvent({ seating: "general", capacity: 50, maxSeatsPerUser: 4 });
      const random = rng(seed);
      const requests = users.map(() => ({ quantity: 1 + Math.floor(random() * 4) }));

      const results = await storm(ev.id, requests);

      let sold = 0;
      for (const r of results) {
        expect([201, 409], JSON.stringify(r.body)).toContain(r.status);
        if (r.status === 201) sold += r.body.quantity;
        else expect(r.body.error.code).toBe("SEAT_UNAVAILABLE");
      }
      const left = 50 - sold;
      expect(sold).toBeLessThanOrEqual(50);
      // Nothing is released during the storm, so what is left only shrank: every refusal asked for more.
      results.forEach((r, i) => {
        if (r.status === 409) expect(requests[i].quantity).toBeGreaterThan(left);
      });
      const snap: any = await (await callApp(`/v1/events/${ev.id}/seats`)).json();
      expect(snap.availability).toEqual({ capacity: 50, available: left, held: sold, booked: 0 });
    });
  }
});

describe("storm: concurrent per-user caps (many requests of one user at once)", () => {
  /** One user's 50 hold requests sent together; every answer is 201, 422 LIMIT_EXCEEDED or 429 RATE_LIMITED (the per-user hold rate limit). */
  async function oneUserStorm(user: TestUser, eventId: string, bodies: unknown[]) {
    const results = await Promise.all(bodies.map((json) => holdAnswered(eventId, user.auth, json)));
    for (const r of results) {
      expect([201, 422, 429], JSON.stringify(r.body)).toContain(r.status);
      if (r.status === 422) expect(r.body.error.code).toBe("LIMIT_EXCEEDED");
      if (r.status === 429) expect(r.body.error.code).toBe("RATE_LIMITED");
    }
    // Someone was refused by the cap itself, not only by the rate limiter.
    expect(results.some((r) => r.status === 422)).toBe(true);
    return results.filter((r) => r.status === 201).map((r) => r.body);
  }

  it("one user sending 50 holds at once for distinct seats with a cap of 8 gets exactly 8 seats held", async () => {
    const ev = await publishedEvent({ layout: [1, 5, 10], maxSeatsPerUser: 8 });
    const ids = ev.init.seats.map((s) => s.id);
    const granted = await oneUserStorm(users[0], ev.id, ids.map((id) => ({ seatIds: [id] })));

    expect(granted).toHaveLength(8);
    const heldIds = granted.flatMap((h) => h.seats.map((s: any) => s.id));
    expect(new Set(heldIds).size).toBe(8);
    const snap: any = await (await callApp(`/v1/events/${ev.id}/seats`)).json();
    expect(snap.seats.filter((s: any) => s.status === "held").map((s: any) => s.id).sort()).toEqual([...heldIds].sort());
    expect(snap.availability).toEqual({ capacity: 50, available: 42, held: 8, booked: 0 });
  });

  it("one user sending 50 general admission holds of 1 at once with a cap of 8 gets exactly 8 tickets held", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 50, maxSeatsPerUser: 8 });
    // Another user than the test above: the per-user rate limit's window is still open for that one.
    const granted = await oneUserStorm(users[1], ev.id, Array.from({ length: 50 }, () => ({ quantity: 1 })));

    expect(granted.reduce((sum, h) => sum + h.quantity, 0)).toBe(8);
    const snap: any = await (await callApp(`/v1/events/${ev.id}/seats`)).json();
    expect(snap.availability).toEqual({ capacity: 50, available: 42, held: 8, booked: 0 });
  });
});
