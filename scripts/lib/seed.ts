// Demo data for `npm run dev` and the e2e tests, created through the running Worker's HTTP API
// (its own code paths), never by writing a Durable Object's storage from outside. Idempotent:
// a second start finds everything in place. The world itself is src/services/demo-catalogue.ts.
import pg from "pg";
import { DEMO_EVENTS, DEMO_VENUES, DEMO_VENUE_NAME, type DemoEvent, type DemoRole, demoEventTimes } from "../../src/services/demo-catalogue";

export { DEMO_VENUE_NAME };

export const DEMO_ADMIN = { email: "admin@evently.test", password: "evently-admin-pw", name: "Demo Admin" };
export const DEMO_ORGANIZER = { email: "organizer@evently.test", password: "evently-organizer-pw", name: "Demo Organizer" };
/** The account to try the page with: it has a confirmed booking and a refunded one. */
export const DEMO_BUYER = { email: "buyer@evently.test", password: "evently-buyer-pw", name: "Demo Buyer" };
/** Books the seats that make one event nearly sold out and another sold out. */
export const DEMO_CROWD = { email: "crowd@evently.test", password: "evently-crowd-pw", name: "Demo Crowd" };
/** Waits on the sold-out event's waitlist. */
export const DEMO_FAN = { email: "fan@evently.test", password: "evently-fan-pw", name: "Demo Fan" };

export interface Session {
  accessToken: string;
  user: { id: string; role: string; email: string };
}

async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(method === "POST" ? { "idempotency-key": crypto.randomUUID() } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function loginOrRegister(base: string, account: typeof DEMO_ADMIN): Promise<Session> {
  const login = await api(base, "POST", "/v1/auth/login", { email: account.email, password: account.password });
  if (login.status === 200) return login.body;
  const reg = await api(base, "POST", "/v1/auth/register", account);
  if (reg.status !== 201) throw new Error(`register ${account.email}: ${reg.status} ${JSON.stringify(reg.body)}`);
  return reg.body;
}

/**
 * Promotes a user to admin directly in Postgres: the same step as `npm run admin:create`, the only
 * way the first admin of a deployment can exist (no admin is there yet to promote anyone).
 */
export async function promoteToAdmin(databaseUrl: string, email: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const res = await client.query("update users set role = 'admin', updated_at = now() where lower(email) = lower($1) and role <> 'admin'", [email]);
    return (res.rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

export interface SeededEvent {
  key: string;
  id: string;
  name: string;
  seating: "reserved" | "general";
  role: DemoRole;
  status: string;
  city: string;
}

export interface SeededDemo {
  /** The banner's lines: accounts and where to look. */
  lines: string[];
  admin: Session;
  organizer: Session;
  buyer: Session;
  events: SeededEvent[];
}

type Log = (s: string) => void;

export async function seedDemoData(base: string, databaseUrl: string, log: Log = () => {}): Promise<SeededDemo> {
  let admin = await loginOrRegister(base, DEMO_ADMIN);
  if (admin.user.role !== "admin") {
    await promoteToAdmin(databaseUrl, DEMO_ADMIN.email);
    admin = await loginOrRegister(base, DEMO_ADMIN);
    log(`seed: ${DEMO_ADMIN.email} is admin`);
  }
  let organizer = await loginOrRegister(base, DEMO_ORGANIZER);
  if (organizer.user.role !== "organizer") {
    const res = await api(base, "PATCH", `/v1/admin/users/${organizer.user.id}`, { role: "organizer" }, admin.accessToken);
    if (res.status !== 200) throw new Error(`promote organizer: ${res.status} ${JSON.stringify(res.body)}`);
    organizer = await loginOrRegister(base, DEMO_ORGANIZER);
    log(`seed: ${DEMO_ORGANIZER.email} is organizer`);
  }
  const [buyer, crowd, fan] = [await loginOrRegister(base, DEMO_BUYER), await loginOrRegister(base, DEMO_CROWD), await loginOrRegister(base, DEMO_FAN)];
  const events = await seedCatalogue(base, organizer, log);
  const byKey = new Map(events.map((e) => [e.key, e]));
  const who = { base, organizer, buyer, crowd, fan, log };
  // Independent of each other, so they settle (each waits for its booking saga) side by side.
  await Promise.all(
    events.map(async (e) => {
      const spec = DEMO_EVENTS.find((d) => d.key === e.key)!;
      e.status = await applyRole(who, e, spec);
    }),
  );

  const page = (e: SeededEvent | undefined) => (e ? `${base}/#/events/${e.id}` : "(missing)");
  const lines = [
    `  web page: ${base}/  (sign in as the buyer below, or create an account there)`,
    `  accounts: ${DEMO_BUYER.email} / ${DEMO_BUYER.password} (buyer: a confirmed booking and a refunded one)`,
    `            ${DEMO_ORGANIZER.email} / ${DEMO_ORGANIZER.password} (organizer)`,
    `            ${DEMO_ADMIN.email} / ${DEMO_ADMIN.password} (admin)`,
    `  ${events.filter((e) => e.status === "published").length} upcoming events in ${new Set(events.map((e) => e.city)).size} cities; worth a look:`,
    `    seat map:          ${page(byKey.get("reserved-night"))}`,
    `    nearly sold out:   ${page(byKey.get("fado"))}`,
    `    waitlist:          ${page(byKey.get("late-jazz"))}`,
    `    general admission: ${page(byKey.get("ga-festival"))}`,
    `    on-sale (queue):   ${page(byKey.get("on-sale"))}  (its waiting room opens a minute after start)`,
    `    cancelled:         ${base}/v1/events/${byKey.get("techno")?.id ?? "(missing)"}`,
  ];
  return { lines, admin, organizer, buyer, events };
}

async function listAll(base: string, path: string, token: string): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const res = await api(base, "GET", `${path}${path.includes("?") ? "&" : "?"}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, undefined, token);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(...res.body.data);
    cursor = res.body.nextCursor;
  } while (cursor);
  return out;
}

/** The venues and events of the demo world, made and published once; found again by name afterwards. */
async function seedCatalogue(base: string, organizer: Session, log: Log): Promise<SeededEvent[]> {
  const token = organizer.accessToken;
  const venueIds = new Map<string, { id: string; timezone: string; city: string }>();
  for (const v of DEMO_VENUES) {
    let venue = (await listAll(base, `/v1/venues?city=${encodeURIComponent(v.city)}`, token)).find((x) => x.name === v.name && x.ownerId === organizer.user.id);
    if (!venue) {
      const res = await api(base, "POST", "/v1/venues", { name: v.name, city: v.city, address: v.address, timezone: v.timezone, capacity: v.capacity, layout: v.layout }, token);
      if (res.status !== 201) throw new Error(`create venue ${v.name}: ${res.status} ${JSON.stringify(res.body)}`);
      venue = res.body;
      log(`seed: venue ${v.name} (${v.city})`);
    }
    venueIds.set(v.key, { id: venue.id, timezone: v.timezone, city: v.city });
  }
  // The organizer's own events in every state a demo event can be in; upcoming published ones only.
  const existing = (await Promise.all(["published", "draft", "cancelled"].map((s) => listAll(base, `/v1/events?status=${s}`, token)))).flat();
  const now = new Date();
  const out: SeededEvent[] = [];
  for (const spec of DEMO_EVENTS) {
    const venue = venueIds.get(spec.venue)!;
    let ev = existing.find((e) => e.name === spec.name && e.venueId === venue.id && Date.parse(e.startsAt) > now.getTime());
    if (!ev) {
      const res = await api(base, "POST", "/v1/events", {
        venueId: venue.id, name: spec.name, description: spec.description, category: spec.category, seating: spec.seating,
        ...demoEventTimes(spec, venue.timezone, now), ...(spec.capacity ? { capacity: spec.capacity } : {}),
        priceCents: spec.priceCents, currency: spec.currency, ...(spec.maxSeatsPerUser ? { maxSeatsPerUser: spec.maxSeatsPerUser } : {}),
      }, token);
      if (res.status !== 201) throw new Error(`create event ${spec.name}: ${res.status} ${JSON.stringify(res.body)}`);
      ev = res.body;
      log(`seed: event ${spec.name}`);
    }
    if (ev.status === "draft") {
      const pub = await api(base, "POST", `/v1/events/${ev.id}/publish`, {}, token);
      if (pub.status !== 200) throw new Error(`publish ${spec.name}: ${pub.status} ${JSON.stringify(pub.body)}`);
      ev = pub.body;
    }
    out.push({ key: spec.key, id: ev.id, name: ev.name, seating: ev.seating, role: spec.role, status: ev.status, city: venue.city });
  }
  return out;
}

interface Cast {
  base: string;
  organizer: Session;
  buyer: Session;
  crowd: Session;
  fan: Session;
  log: Log;
}

/** Brings the event to the state its role describes, unless it is there already; answers its status. */
async function applyRole(c: Cast, e: SeededEvent, spec: DemoEvent): Promise<string> {
  if (e.status === "cancelled") return e.status;
  switch (spec.role) {
    case "plain":
      return e.status;
    case "on-sale": {
      // Opens a minute from now; once opened the room answers 409 and the seed leaves it as it is.
      const opensAt = new Date(Date.now() + 60_000).toISOString();
      const res = await api(c.base, "PUT", `/v1/events/${e.id}/on-sale`, { opensAt, shards: 2, maxActiveShoppers: 50 }, c.organizer.accessToken);
      if (res.status === 200) c.log(`seed: ${e.name} on sale through its waiting room from ${opensAt}`);
      else if (res.status !== 409) throw new Error(`on-sale ${e.name}: ${res.status} ${JSON.stringify(res.body)}`);
      return e.status;
    }
    case "buyer-booking":
      await ensureBooking(c, c.buyer, e, 2);
      return e.status;
    case "nearly-sold-out": {
      const map = await seatMap(c.base, e.id);
      const taken = map.capacity - map.available;
      const want = map.capacity - (spec.leave ?? 1);
      if (taken < want) await book(c, c.crowd, e, want - taken, map);
      return e.status;
    }
    case "waitlist": {
      const map = await seatMap(c.base, e.id);
      if (map.available > 0) await book(c, c.crowd, e, map.available, map);
      const join = await api(c.base, "POST", `/v1/events/${e.id}/waitlist`, { quantity: 2 }, c.fan.accessToken);
      if (join.status !== 201 && join.status !== 200) throw new Error(`join the waitlist of ${e.name}: ${join.status} ${JSON.stringify(join.body)}`);
      return e.status;
    }
    case "cancelled": {
      await ensureBooking(c, c.buyer, e, 2);
      const res = await api(c.base, "POST", `/v1/events/${e.id}/cancel`, {}, c.organizer.accessToken);
      if (res.status !== 202) throw new Error(`cancel ${e.name}: ${res.status} ${JSON.stringify(res.body)}`);
      c.log(`seed: cancelled ${e.name}`);
      return res.body.status;
    }
  }
}

interface SeatMap {
  capacity: number;
  available: number;
  /** Reserved seating: available seat ids in layout order. */
  free: string[];
}

async function seatMap(base: string, eventId: string): Promise<SeatMap> {
  const res = await api(base, "GET", `/v1/events/${eventId}/seats`);
  if (res.status !== 200) throw new Error(`seat map of ${eventId}: ${res.status} ${JSON.stringify(res.body)}`);
  const seats: { id: string; status: string }[] = res.body.seats ?? [];
  if (seats.length) {
    const free = seats.filter((s) => s.status === "available").map((s) => s.id);
    return { capacity: seats.length, available: free.length, free };
  }
  return { capacity: res.body.availability.capacity, available: res.body.availability.available, free: [] };
}

async function ensureBooking(c: Cast, who: Session, e: SeededEvent, count: number): Promise<void> {
  const mine = await listAll(c.base, "/v1/bookings?status=confirmed", who.accessToken);
  if (mine.some((b) => b.eventId === e.id)) return;
  const map = await seatMap(c.base, e.id);
  // The second row's middle if it is free: a booking a newcomer finds on the map.
  const preferred = ["A-2-10", "A-2-11"].filter((id) => map.free.includes(id));
  await book(c, who, e, count, { ...map, free: preferred.length === count ? preferred : map.free });
}

/** Holds `count` seats (the first free ones) or tickets, books them with the sandbox card and waits for the saga. */
async function book(c: Cast, who: Session, e: SeededEvent, count: number, map: SeatMap): Promise<void> {
  const body = e.seating === "reserved" ? { seatIds: map.free.slice(0, count) } : { quantity: count };
  const hold = await api(c.base, "POST", `/v1/events/${e.id}/holds`, body, who.accessToken);
  if (hold.status !== 201) throw new Error(`hold ${count} at ${e.name}: ${hold.status} ${JSON.stringify(hold.body)}`);
  const res = await api(c.base, "POST", "/v1/bookings", { holdId: hold.body.id, paymentMethod: "pm_card_ok" }, who.accessToken);
  if (res.status !== 202 && res.status !== 200) throw new Error(`book at ${e.name}: ${res.status} ${JSON.stringify(res.body)}`);
  const deadline = Date.now() + 60_000;
  let booking = res.body;
  while (booking.status === "pending" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    booking = (await api(c.base, "GET", `/v1/bookings/${booking.id}`, undefined, who.accessToken)).body;
  }
  if (booking.status !== "confirmed") throw new Error(`booking at ${e.name} ended ${booking.status}: ${booking.failureReason ?? "no confirmation within 60 s"}`);
  c.log(`seed: ${who.user.email} booked ${count} at ${e.name}`);
}
