// Reference of bench/checkout: the seed's synchronous checkout, the design a user would otherwise
// pick. Node `http` + `pg`: one transaction per booking that locks the seats (SELECT … FOR UPDATE),
// calls the same sandbox card network over HTTP, writes the booking and books the seats, and only
// then answers: the buyer's time to confirmed is the response time.
// Run as a child process: `node --import tsx bench/lib/checkout-reference.ts <databaseUrl> <cardUrl>`.
import http from "node:http";
import pg from "pg";

const [databaseUrl, cardUrl] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.REFERENCE_POOL ?? 20), idleTimeoutMillis: 0 });
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

async function setup(): Promise<void> {
  await pool.query(`
    drop table if exists ref_bookings; drop table if exists ref_seats;
    create table ref_seats (event_id text not null, seat_id text not null, status text not null default 'available', booking_id text, primary key (event_id, seat_id));
    create table ref_bookings (id text primary key, event_id text not null, user_id text not null, seat_ids text[] not null, amount_cents int not null, status text not null);
  `);
}

function charge(body: unknown): Promise<{ ok: boolean; value?: { status: string } }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(`${cardUrl}/__bench/card/charge`, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

async function checkout(b: { eventId: string; userId: string; seatIds: string[] }): Promise<{ status: number; body: unknown }> {
  const id = crypto.randomUUID();
  const c = await pool.connect();
  try {
    await c.query("begin");
    const { rows } = await c.query<{ seat_id: string; status: string }>(`select seat_id, status from ref_seats where event_id = $1 and seat_id = any($2) for update`, [b.eventId, b.seatIds]);
    if (rows.length !== b.seatIds.length || rows.some((r) => r.status !== "available")) {
      await c.query("rollback");
      return { status: 409, body: { error: { code: "SEAT_UNAVAILABLE" } } };
    }
    const amountCents = 5000 * b.seatIds.length;
    const paid = await charge({ idempotencyKey: `ref:${id}`, reference: id, amountCents, currency: "EUR", paymentMethod: "pm_card_ok" });
    if (!paid.ok || paid.value?.status !== "succeeded") {
      await c.query("rollback");
      return { status: 402, body: { error: { code: "PAYMENT_DECLINED" } } };
    }
    await c.query(`insert into ref_bookings (id, event_id, user_id, seat_ids, amount_cents, status) values ($1, $2, $3, $4, $5, 'confirmed')`, [id, b.eventId, b.userId, b.seatIds, amountCents]);
    await c.query(`update ref_seats set status = 'booked', booking_id = $1 where event_id = $2 and seat_id = any($3)`, [id, b.eventId, b.seatIds]);
    await c.query("commit");
    return { status: 201, body: { id, status: "confirmed" } };
  } catch (e) {
    await c.query("rollback").catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString() || "{}");
      let out: { status: number; body: unknown };
      if (req.method === "POST" && req.url === "/seats") {
        await pool.query(`insert into ref_seats (event_id, seat_id) select $1, unnest($2::text[])`, [body.eventId, body.seatIds]);
        out = { status: 201, body: {} };
      } else if (req.method === "POST" && req.url === "/checkout") out = await checkout(body);
      else if (req.method === "GET" && req.url === "/ledger") {
        const { rows } = await pool.query(`select (select count(*)::int from ref_bookings) as bookings, (select count(*)::int from (select unnest(seat_ids) s, event_id from ref_bookings group by 1, 2 having count(*) > 1) d) as doubled`);
        out = { status: 200, body: rows[0] };
      } else out = { status: 404, body: {} };
      res.writeHead(out.status, { "content-type": "application/json" }).end(JSON.stringify(out.body));
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
});

await setup();
server.listen(0, "127.0.0.1", () => {
  const addr = server.address();
  process.stdout.write(`ready ${typeof addr === "object" && addr ? addr.port : 0}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
