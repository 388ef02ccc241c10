// Demo data for `npm run dev` and the e2e tests, created through the running Worker's HTTP API
// (its own code paths), never by writing a Durable Object's storage from outside. Idempotent:
// a second start finds everything in place.
import pg from "pg";

export const DEMO_ADMIN = { email: "admin@evently.test", password: "evently-admin-pw", name: "Demo Admin" };
export const DEMO_ORGANIZER = { email: "organizer@evently.test", password: "evently-organizer-pw", name: "Demo Organizer" };

interface Session {
  accessToken: string;
  user: { id: string; role: string };
}

async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
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

export interface SeededDemo {
  lines: string[];
  admin: Session;
  organizer: Session;
  events: { id: string; name: string; seating: string }[];
}

export async function seedDemoData(base: string, databaseUrl: string, log: (s: string) => void = () => {}): Promise<SeededDemo> {
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
  const events = await seedDemoCatalogue(base, organizer.accessToken, log);
  const lines = [
    `  accounts: ${DEMO_ADMIN.email} / ${DEMO_ADMIN.password} (admin)`,
    `            ${DEMO_ORGANIZER.email} / ${DEMO_ORGANIZER.password} (organizer)`,
    ...events.map((e) => `  event: ${e.name} (${e.seating}) ${base}/v1/events/${e.id}`),
  ];
  return { lines, admin, organizer, events };
}

export const DEMO_VENUE_NAME = "Evently Demo Hall";

/**
 * A demo venue and three published events (reserved 10x20, general admission 500, and a general
 * admission "on-sale rush" of 200 put in on-sale mode opening a minute after it was created), once.
 */
async function seedDemoCatalogue(base: string, token: string, log: (s: string) => void): Promise<SeededDemo["events"]> {
  const probe = await api(base, "GET", "/v1/venues?limit=100", undefined, token);
  if (probe.status === 404 && probe.body?.error?.code === "NOT_FOUND" && /No route/.test(probe.body.error.message)) {
    log("seed: no catalogue routes in this build, skipping venues and events");
    return [];
  }
  let venue = (probe.body?.data ?? []).find((v: any) => v.name === DEMO_VENUE_NAME);
  if (!venue) {
    const rows = Array.from({ length: 10 }, (_, i) => ({ label: String(i + 1), seats: 20, priceCents: i < 3 ? 8_000 : 5_000 }));
    const res = await api(base, "POST", "/v1/venues", {
      name: DEMO_VENUE_NAME, city: "Berlin", address: "Demo Strasse 1", timezone: "Europe/Berlin", capacity: 500,
      layout: { sections: [{ name: "A", rows }] },
    }, token);
    if (res.status !== 201) throw new Error(`create venue: ${res.status} ${JSON.stringify(res.body)}`);
    venue = res.body;
    log(`seed: venue ${venue.id}`);
  }
  const existing = await api(base, "GET", `/v1/events?limit=100&q=${encodeURIComponent("Evently Demo")}`);
  const found: any[] = existing.body?.data ?? [];
  const start = new Date(Date.now() + 30 * 86_400_000);
  start.setUTCHours(19, 0, 0, 0);
  const end = new Date(start.getTime() + 3 * 3_600_000);
  const wanted = [
    { name: "Evently Demo: Reserved Seating Night", seating: "reserved" as const },
    { name: "Evently Demo: General Admission Festival", seating: "general" as const, capacity: 500 },
    { name: "Evently Demo: On-Sale Rush", seating: "general" as const, capacity: 200, onSale: true },
  ];
  const out: SeededDemo["events"] = [];
  for (const w of wanted) {
    let ev = found.find((e) => e.name === w.name);
    if (!ev) {
      const create = await api(base, "POST", "/v1/events", {
        venueId: venue.id, name: w.name, description: "Demo event seeded by npm run dev", category: "music",
        startsAt: start.toISOString(), endsAt: end.toISOString(), seating: w.seating,
        ...(w.capacity ? { capacity: w.capacity } : {}), priceCents: 4_500, currency: "EUR",
      }, token);
      if (create.status !== 201) throw new Error(`create event: ${create.status} ${JSON.stringify(create.body)}`);
      const pub = await api(base, "POST", `/v1/events/${create.body.id}/publish`, {}, token);
      if (pub.status !== 200) throw new Error(`publish event: ${pub.status} ${JSON.stringify(pub.body)}`);
      ev = pub.body;
      log(`seed: event ${ev.id} ${w.name}`);
      if ("onSale" in w) {
        // The waiting room (docs/onsale.md): holds need an admission from the queue once it opens.
        const opensAt = new Date(Date.now() + 60_000).toISOString();
        const room = await api(base, "PUT", `/v1/events/${ev.id}/on-sale`, { opensAt, shards: 2, maxActiveShoppers: 50 }, token);
        if (room.status !== 200) throw new Error(`on-sale: ${room.status} ${JSON.stringify(room.body)}`);
        log(`seed: event ${ev.id} on sale through its waiting room from ${opensAt}`);
      }
    }
    out.push({ id: ev.id, name: ev.name, seating: ev.seating });
  }
  return out;
}
