import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The organizations migrations (0015 tables, 0016 backfill, 0017 NOT NULL) on a database that holds
 * data written before them: every organizer, and anyone owning a venue or an event, gets a personal
 * organization holding exactly what they owned; buyers get none.
 */
const folder = fileURLToPath(new URL("../../migrations", import.meta.url));
const journal = JSON.parse(readFileSync(join(folder, "meta", "_journal.json"), "utf8")) as { entries: { idx: number; tag: string }[] };
const FIRST_ORG_MIGRATION = journal.entries.find((e) => e.tag.endsWith("_organizations"))!.idx;

async function apply(db: PGlite, from: number, to: number): Promise<void> {
  for (const e of journal.entries.filter((x) => x.idx >= from && x.idx < to)) {
    for (const statement of readFileSync(join(folder, `${e.tag}.sql`), "utf8").split("--> statement-breakpoint")) {
      if (statement.trim()) await db.exec(statement);
    }
  }
}

let db: PGlite;
const id = { organizer: "", idle: "", admin: "", buyer: "", venueA: "", venueC: "", event1: "", event2: "" };
const hook = { organizerEvent: "", organizerAll: "", adminEvent: "", adminAll: "" };

beforeAll(async () => {
  db = new PGlite();
  await apply(db, 0, FIRST_ORG_MIGRATION);
  const user = async (email: string, role: string) =>
    (await db.query<{ id: string }>(`insert into users (email, name, password_hash, role) values ($1, $1, 'x', $2) returning id`, [email, role])).rows[0].id;
  id.organizer = await user("org@v1.test", "organizer");
  id.idle = await user("idle@v1.test", "organizer");
  id.admin = await user("admin@v1.test", "admin");
  id.buyer = await user("buyer@v1.test", "user");
  const venue = async (owner: string) =>
    (await db.query<{ id: string }>(`insert into venues (owner_id, name, city, address, timezone, capacity) values ($1, 'Hall', 'Porto', 'x', 'UTC', 100) returning id`, [owner])).rows[0].id;
  id.venueA = await venue(id.organizer);
  id.venueC = await venue(id.admin);
  const event = async (status: string) =>
    (
      await db.query<{ id: string }>(
        `insert into events (venue_id, organizer_id, name, category, city, timezone, status, seating, start_time, end_time, capacity, price_cents, currency)
         values ($1, $2, 'Night', 'music', 'Porto', 'UTC', $3, 'general', now() + interval '1 day', now() + interval '2 days', 10, 100, 'EUR') returning id`,
        [id.venueA, id.organizer, status],
      )
    ).rows[0].id;
  id.event1 = await event("draft");
  id.event2 = await event("published");
  const webhook = async (owner: string, eventId: string | null) =>
    (await db.query<{ id: string }>(`insert into webhooks (owner_id, url, types, event_id, secret) values ($1, 'https://hooks.example.com/x', '["booking.confirmed"]', $2, 'whsec_x') returning id`, [owner, eventId])).rows[0].id;
  hook.organizerEvent = await webhook(id.organizer, id.event1);
  hook.organizerAll = await webhook(id.organizer, null);
  hook.adminEvent = await webhook(id.admin, id.event2);
  hook.adminAll = await webhook(id.admin, null);
  await apply(db, FIRST_ORG_MIGRATION, Infinity);
}, 60_000);

afterAll(async () => {
  await db?.close();
});

describe("organizations migration on a database with v1 data", () => {
  it("gives every organizer, and every owner of a venue or an event, one personal organization they own", async () => {
    const { rows } = await db.query<{ personal_owner_id: string; user_id: string; role: string }>(
      `select o.personal_owner_id, m.user_id, m.role from organizations o join organization_members m on m.org_id = o.id order by o.personal_owner_id`,
    );
    expect(rows.map((r) => r.personal_owner_id).sort()).toEqual([id.organizer, id.idle, id.admin].sort());
    for (const r of rows) expect(r).toMatchObject({ user_id: r.personal_owner_id, role: "owner" });
  });

  it("puts each venue and event in its owner's personal organization, and makes org_id required", async () => {
    const orgOf = async (userId: string) => (await db.query<{ id: string }>(`select id from organizations where personal_owner_id = $1`, [userId])).rows[0].id;
    const venues = await db.query<{ id: string; org_id: string }>(`select id, org_id from venues`);
    expect(Object.fromEntries(venues.rows.map((v) => [v.id, v.org_id]))).toEqual({ [id.venueA]: await orgOf(id.organizer), [id.venueC]: await orgOf(id.admin) });
    const events = await db.query<{ org_id: string }>(`select org_id from events`);
    expect(events.rows.map((e) => e.org_id)).toEqual([await orgOf(id.organizer), await orgOf(id.organizer)]);
    await expect(db.query(`update events set org_id = null where id = $1`, [id.event1])).rejects.toThrow(/null/);
  });

  it("puts a venue and an event inserted without an organization where the API would: the owner's personal organization, the venue's", async () => {
    const owner = (await db.query<{ id: string }>(`insert into users (email, name, password_hash, role) values ('late@v1.test', 'Late', 'x', 'organizer') returning id`)).rows[0].id;
    const venue = (await db.query<{ id: string; org_id: string }>(`insert into venues (owner_id, name, city, address, timezone, capacity) values ($1, 'Late hall', 'Porto', 'x', 'UTC', 10) returning id, org_id`, [owner])).rows[0];
    const personal = (await db.query<{ id: string }>(`select o.id from organizations o join organization_members m on m.org_id = o.id and m.role = 'owner' where o.personal_owner_id = $1 and m.user_id = $1`, [owner])).rows[0].id;
    expect(venue.org_id).toBe(personal);
    const event = await db.query<{ org_id: string }>(
      `insert into events (venue_id, organizer_id, name, category, city, timezone, seating, start_time, end_time, capacity, price_cents, currency)
       values ($1, $2, 'Late night', 'music', 'Porto', 'UTC', 'general', now() + interval '1 day', now() + interval '2 days', 10, 100, 'EUR') returning org_id`,
      [venue.id, owner],
    );
    expect(event.rows[0].org_id).toBe(personal);
  });

  it("gives each webhook its organization: the event's, or its organizer's personal one for every event; a platform admin's global hook stays global", async () => {
    const orgOf = async (userId: string) => (await db.query<{ id: string }>(`select id from organizations where personal_owner_id = $1`, [userId])).rows[0].id;
    const { rows } = await db.query<{ id: string; org_id: string | null }>(`select id, org_id from webhooks`);
    expect(Object.fromEntries(rows.map((r) => [r.id, r.org_id]))).toEqual({
      [hook.organizerEvent]: await orgOf(id.organizer),
      [hook.organizerAll]: await orgOf(id.organizer),
      [hook.adminEvent]: await orgOf(id.organizer),
      [hook.adminAll]: null,
    });
  });

  it("leaves buyers out of every organization", async () => {
    const { rows } = await db.query(`select 1 from organization_members where user_id = $1`, [id.buyer]);
    expect(rows).toEqual([]);
  });
});
