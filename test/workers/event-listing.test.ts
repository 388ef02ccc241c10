import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { events } from "../../src/db/schema";
import { DAY, makeEvent, makePublished, makeVenue } from "../helpers/catalogue";
import { call, expectError, makeUser, withDb } from "../helpers/fixtures";

const uniq = () => crypto.randomUUID().slice(0, 8);
const at = (days: number) => {
  const start = Date.now() + days * DAY;
  return { startsAt: new Date(start).toISOString(), endsAt: new Date(start + 3_600_000).toISOString() };
};

async function allPages(query: string, limit: number, between?: (page: number) => Promise<void>, headers?: Record<string, string>): Promise<any[]> {
  const seen: any[] = [];
  let cursor: string | null = null;
  let page = 0;
  do {
    const res = await call(`/v1/events?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { headers });
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    seen.push(...body.data);
    cursor = body.nextCursor;
    if (between && cursor) await between(page++);
  } while (cursor);
  return seen;
}

describe("listing pagination", () => {
  it("pages soonest first with no duplicates and no gaps while events are added between pages", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org, { capacity: 500 });
    const category = `paging-${uniq()}`;
    const original = [];
    for (const d of [3, 5, 7, 9, 11, 13, 15]) original.push(await makePublished(org, v.id, { category, ...at(d), seating: "general", capacity: 10 }));

    const late: string[] = [];
    const seen = await allPages(`category=${category}`, 3, async (page) => {
      if (page > 0) return;
      // One event after the cursor (must appear) and one before it (already passed, must not).
      late.push((await makePublished(org, v.id, { category, ...at(14), seating: "general", capacity: 10 })).id);
      await makePublished(org, v.id, { category, ...at(4), seating: "general", capacity: 10 });
    });

    const ids = seen.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const expected = [...original.map((e) => e.id), ...late];
    expect([...ids].sort()).toEqual([...expected].sort());
    const starts = seen.map((e) => Date.parse(e.startsAt));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });

  it("keeps a stable order among events that start at the same instant", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org, { capacity: 500 });
    const category = `ties-${uniq()}`;
    const same = at(20);
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await makePublished(org, v.id, { category, ...same, seating: "general", capacity: 10 })).id);
    const seen = await allPages(`category=${category}`, 2);
    expect(seen.map((e) => e.id)).toEqual([...made].sort());
  });

  it("refuses a cursor that was not issued by the listing", async () => {
    for (const cursor of ["garbage!", btoa(JSON.stringify({ k: "events", v: ["2026-01-01T00:00:00Z", "not-a-uuid"] })).replace(/=+$/, "")]) {
      const res = await call(`/v1/events?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status).toBe(400);
      expectError(await res.json(), "VALIDATION_FAILED");
    }
  });
});

describe("listing filters", () => {
  it("filters by category, city (any case), words of the name and description, and a date range", async () => {
    const org = await makeUser("organizer");
    const tag = uniq();
    const berlin = await makeVenue(org, { city: `Berlin-${tag}`, capacity: 500 });
    const paris = await makeVenue(org, { city: `Paris-${tag}`, capacity: 500 });
    const ga = { seating: "general", capacity: 10 };
    const jazz = await makePublished(org, berlin.id, { ...ga, ...at(2), category: `jazz-${tag}`, name: `Midnight Jazz ${tag}`, description: "saxophone quartet" });
    const rock = await makePublished(org, berlin.id, { ...ga, ...at(4), category: `rock-${tag}`, name: `Rock Night ${tag}`, description: "guitars" });
    const far = await makePublished(org, paris.id, { ...ga, ...at(40), category: `rock-${tag}`, name: `Rock Opera ${tag}`, description: "strings and saxophone" });
    await makeEvent(org, berlin.id, { ...ga, ...at(3), category: `jazz-${tag}`, name: `Draft Jazz ${tag}` });

    const ids = async (query: string) => ((await (await call(`/v1/events?${query}`)).json()) as any).data.map((e: any) => e.id);
    expect(await ids(`category=JAZZ-${tag}`)).toEqual([jazz.id]);
    expect(await ids(`category=rock-${tag}`)).toEqual([rock.id, far.id]);
    expect(await ids(`city=berlin-${tag}`)).toEqual([jazz.id, rock.id]);
    expect(await ids(`q=${tag}%20sax`)).toEqual([jazz.id, far.id]);
    expect(await ids(`q=${tag}%20rock%20oper`)).toEqual([far.id]);
    const from = new Date(Date.now() + 3 * DAY).toISOString();
    const to = new Date(Date.now() + 30 * DAY).toISOString();
    expect(await ids(`q=${tag}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)).toEqual([rock.id]);
  });

  it("lists only upcoming events unless asked for a range in the past", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org, { capacity: 500 });
    const category = `past-${uniq()}`;
    const e = await makePublished(org, v.id, { category, ...at(5), seating: "general", capacity: 10 });
    // Started an hour ago and still running: published, but no longer upcoming.
    await withDb((db) => db.update(events).set({ startTime: new Date(Date.now() - 3_600_000), endTime: new Date(Date.now() + 3_600_000) }).where(eq(events.id, e.id)));
    const list = async (q: string) => ((await (await call(`/v1/events?category=${category}${q}`)).json()) as any).data.map((x: any) => x.id);
    expect(await list("")).toEqual([]);
    expect(await list(`&from=${encodeURIComponent(new Date(Date.now() - DAY).toISOString())}`)).toEqual([e.id]);
  });
});

describe("what an event card needs", () => {
  it("names the venue, gives the cheapest price of the layout, and counts the people on the waitlist", async () => {
    const org = await makeUser("organizer");
    const buyer = await makeUser("user");
    const fan = await makeUser("user");
    const venue = await makeVenue(org, {
      name: `Kaiyo Theatre ${uniq()}`,
      timezone: "Asia/Tokyo",
      capacity: 3,
      layout: { sections: [{ name: "Stalls", priceCents: 9000, rows: [{ label: "1", seats: 2, priceCents: 12000 }, { label: "2", seats: 2 }] }, { name: "Circle", rows: [{ label: "1", seats: 2 }] }] },
    });
    const category = `card-${uniq()}`;
    const reserved = await makePublished(org, venue.id, { category, ...at(6), priceCents: 15000 });
    const ga = await makePublished(org, venue.id, { category, ...at(7), seating: "general", capacity: 2, priceCents: 2500 });
    const list = async () => ((await (await call(`/v1/events?category=${category}`, { headers: buyer.auth })).json()) as any).data;

    const [r, g] = await list();
    expect(r).toMatchObject({ id: reserved.id, venueName: venue.name, city: venue.city, timezone: "Asia/Tokyo", priceFromCents: 9000, waitlist: { waiting: 0 } });
    expect(g).toMatchObject({ id: ga.id, venueName: venue.name, priceFromCents: 2500, availability: { capacity: 2, available: 2 } });
    const detail: any = await (await call(`/v1/events/${reserved.id}`)).json();
    expect(detail.priceFromCents).toBe(9000);

    expect((await call(`/v1/events/${ga.id}/holds`, { method: "POST", headers: buyer.auth, json: { quantity: 2 } })).status).toBe(201);
    expect((await call(`/v1/events/${ga.id}/waitlist`, { method: "POST", headers: fan.auth, json: { quantity: 1 } })).status).toBe(201);
    await expect.poll(async () => (await list())[1].waitlist.waiting, { timeout: 10_000, interval: 250 }).toBe(1);
    expect((await list())[0].waitlist.waiting).toBe(0);
  });
});

describe("listing other statuses", () => {
  it("shows drafts to their organization only, all drafts to an admin, none to a user of no organization, and refuses anonymous callers", async () => {
    const a = await makeUser("organizer");
    const b = await makeUser("organizer");
    const admin = await makeUser("admin");
    const user = await makeUser("user");
    const category = `drafts-${uniq()}`;
    const va = await makeVenue(a);
    const vb = await makeVenue(b);
    const da = await makeEvent(a, va.id, { category, ...at(6) });
    const db_ = await makeEvent(b, vb.id, { category, ...at(7) });

    const list = async (headers?: Record<string, string>) => call(`/v1/events?status=draft&category=${category}`, { headers });
    expect((await list()).status).toBe(401);
    // Since organizations, a plain account may be staff somewhere; one that is nowhere sees none.
    expect(((await (await list(user.auth)).json()) as any).data).toEqual([]);
    expect(((await (await list(a.auth)).json()) as any).data.map((e: any) => e.id)).toEqual([da.id]);
    expect(((await (await list(admin.auth)).json()) as any).data.map((e: any) => e.id)).toEqual([da.id, db_.id]);
    // Drafts never appear in the public listing.
    expect(((await (await call(`/v1/events?category=${category}`)).json()) as any).data).toEqual([]);
  });
});

describe("edge cache and ETags", () => {
  it("answers a repeated anonymous listing from the cache and 304 to a matching If-None-Match", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org, { capacity: 500 });
    const category = `etag-${uniq()}`;
    await makePublished(org, v.id, { category, ...at(8), seating: "general", capacity: 10 });
    const first = await call(`/v1/events?category=${category}`);
    const etag = first.headers.get("etag");
    expect(first.status).toBe(200);
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(first.headers.get("x-cache")).toBe("MISS");
    expect(first.headers.get("cache-control")).toBe("public, no-cache");
    await first.arrayBuffer();

    const second = await call(`/v1/events?category=${category}`);
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(second.headers.get("etag")).toBe(etag);
    expect(second.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
    await second.arrayBuffer();

    const notModified = await call(`/v1/events?category=${category}`, { headers: { "if-none-match": `W/${etag}` } });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe("");
    const changed = await call(`/v1/events?category=${category}`, { headers: { "if-none-match": '"something-else"' } });
    expect(changed.status).toBe(200);
    await changed.arrayBuffer();
  });

  it("purges an event's detail on a write so the next read in this location is current", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const e = await makePublished(org, v.id);
    const before = await call(`/v1/events/${e.id}`);
    const etag = before.headers.get("etag")!;
    expect(((await before.json()) as any).name).toBe("Rock Concert");
    expect((await call(`/v1/events/${e.id}`, { method: "PATCH", headers: org.auth, json: { name: "Jazz Evening" } })).status).toBe(200);
    const after = await call(`/v1/events/${e.id}`, { headers: { "if-none-match": etag } });
    expect(after.status).toBe(200);
    expect(((await after.json()) as any).name).toBe("Jazz Evening");
    expect(after.headers.get("etag")).not.toBe(etag);
  });

  it("never keeps a public listing longer than 5 seconds", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org, { capacity: 500 });
    const category = `ttl-${uniq()}`;
    const first = await makePublished(org, v.id, { category, ...at(9), seating: "general", capacity: 10 });
    const ids = async () => ((await (await call(`/v1/events?category=${category}`)).json()) as any).data.map((x: any) => x.id);
    expect(await ids()).toEqual([first.id]);
    // Written behind the API's back, so nothing purges: only the time bound can bring it in.
    await withDb((db) => db.update(events).set({ name: "renamed" }).where(eq(events.id, first.id)));
    const second = await makePublished(org, v.id, { category, ...at(10), seating: "general", capacity: 10 });
    expect(await ids()).toEqual([first.id]);
    await new Promise((r) => setTimeout(r, 5_300));
    expect(await ids()).toEqual([first.id, second.id]);
  });

  it("never caches an authenticated answer", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const e = await makeEvent(org, v.id);
    const res = await call(`/v1/events/${e.id}`, { headers: org.auth });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(res.headers.get("x-cache")).toBeNull();
    await res.arrayBuffer();
  });
});
