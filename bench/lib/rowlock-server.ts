// Reference (1) of bench/holds: the design a user would otherwise pick. Node `http` + `pg`, seat
// rows locked with SELECT … FOR UPDATE in one transaction per hold and per release.
// Run as a child process: `node --import tsx bench/lib/rowlock-server.ts <databaseUrl> <seatIdsJsonFile>`.
import { readFileSync } from "node:fs";
import http from "node:http";
import pg from "pg";

const [databaseUrl, seatFile] = process.argv.slice(2);
const seatIds: string[] = JSON.parse(readFileSync(seatFile, "utf8"));
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.ROWLOCK_POOL ?? 20), idleTimeoutMillis: 0 });

async function setup(): Promise<void> {
  await pool.query(`
    drop table if exists rl_seats; drop table if exists rl_holds;
    create table rl_seats (seat_id text primary key, status text not null default 'available', hold_id text);
    create table rl_holds (id text primary key, seat_ids text[] not null, status text not null);
  `);
  await pool.query(`insert into rl_seats (seat_id) select unnest($1::text[])`, [seatIds]);
}

async function hold(ids: string[]): Promise<{ status: number; body: unknown }> {
  const c = await pool.connect();
  try {
    await c.query("begin");
    const { rows } = await c.query<{ seat_id: string; status: string }>(`select seat_id, status from rl_seats where seat_id = any($1) for update`, [ids]);
    const taken = rows.filter((r) => r.status !== "available").map((r) => r.seat_id);
    if (taken.length || rows.length !== ids.length) {
      await c.query("rollback");
      return { status: 409, body: { error: { code: "SEAT_UNAVAILABLE", details: { seatIds: taken } } } };
    }
    const id = `hld_${crypto.randomUUID()}`;
    await c.query(`insert into rl_holds (id, seat_ids, status) values ($1, $2, 'active')`, [id, ids]);
    await c.query(`update rl_seats set status = 'held', hold_id = $1 where seat_id = any($2)`, [id, ids]);
    await c.query("commit");
    return { status: 201, body: { id, seats: ids } };
  } catch (e) {
    await c.query("rollback").catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

async function release(id: string): Promise<{ status: number; body: unknown }> {
  const c = await pool.connect();
  try {
    await c.query("begin");
    const { rows } = await c.query(`select status from rl_holds where id = $1 for update`, [id]);
    if (rows.length === 0) {
      await c.query("rollback");
      return { status: 404, body: {} };
    }
    await c.query(`update rl_seats set status = 'available', hold_id = null where hold_id = $1`, [id]);
    await c.query(`update rl_holds set status = 'released' where id = $1`, [id]);
    await c.query("commit");
    return { status: 204, body: null };
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
      let out: { status: number; body: unknown };
      if (req.method === "POST" && req.url === "/holds") out = await hold(JSON.parse(Buffer.concat(chunks).toString()).seatIds);
      else if (req.method === "DELETE" && req.url?.startsWith("/holds/")) out = await release(req.url.slice(7));
      else out = { status: 404, body: {} };
      if (out.body === null) res.writeHead(out.status).end();
      else res.writeHead(out.status, { "content-type": "application/json" }).end(JSON.stringify(out.body));
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
