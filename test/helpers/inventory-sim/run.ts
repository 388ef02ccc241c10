import { rng } from "../random";
/**
 * The oversell simulation: a seed gives an event and a sequence of steps (holds, releases, time
 * jumps, confirm/commit/return, waitlist joins and leaves, restarts, a rare cancellation); the
 * steps run against the real InventoryEngine over MemoryStore (object.ts) and the reference model,
 * and every step is checked. A failing sequence is shrunk by removing steps while it still fails
 * the same check.
 */
import type { HoldRow, InventoryConfig } from "../../../durable-objects/inventory/logic/rules";
import type { InventoryInit, InventoryResult } from "../../../durable-objects/inventory/contract";
import { DEFAULT_TYPE, Mismatch, ReferenceModel, type Answer, type ModelHold, type ModelProducts } from "./model";
import { isConstraint, SimObject, type MakeEngine, type MakeGate } from "./object";
import { interleaveOnSale, OnSaleSim, type AdmissionPick, type OnSalePlan, type OnSaleStep } from "./onsale";
import { implicitDefaultType } from "../../../durable-objects/inventory/engine/products";
import type { AdmissionStats, ProductSet, TicketTypeDef } from "../../../durable-objects/inventory/contract";

export type Step =
  /** `ty`: index of a ticket type of the scenario's products (null = the default type); `v`: with the voucher. */
  | { t: "hold"; u: number; seats: number[] | null; q: number; key: number | null; ty: number | null; v: boolean; a?: AdmissionPick }
  | { t: "release"; pick: number; by: "owner" | "system" | "other" }
  | { t: "confirm"; pick: number; wrong: boolean }
  | { t: "commit"; pick: number; wrong: boolean }
  | { t: "return"; pick: number; wrong: boolean }
  | { t: "restore"; pick: number }
  | { t: "join"; u: number; q: number }
  | { t: "leave"; u: number }
  | { t: "tick"; ms: number }
  | { t: "alarm" }
  | { t: "restart" }
  | { t: "close" }
  /**
   * The catalogue pushes a changed set (docs/products.md): type `ty`'s quota becomes `quota`, or the
   * type is deleted, or put back; `stale`: the push carries a revision that is not above the
   * object's (a set read before a newer change, or a repeat), so it must change nothing.
   */
  | { t: "push"; ty: number; change: "quota" | "delete" | "restore"; quota: number; stale: boolean }
  /** The waiting room switched on or off, or a queue shard signing an admission (onsale.ts). */
  | OnSaleStep;

export interface Scenario {
  seed: number;
  config: InventoryConfig;
  seats: { id: string; priceCents: number }[];
  users: string[];
  /** Half the seeds sell ticket types with quotas (two sharing a pool) and a voucher with few usages. */
  products: ModelProducts | null;
  /** About 2 seeds in 5 sell through the waiting room at times (onsale.ts). */
  onsale?: OnSalePlan | null;
  steps: Step[];
}

export interface Failure {
  /** Which check failed: shrinking keeps to the same one. */
  check: string;
  message: string;
  /** Index of the failing step; `steps.length` = the final drain. */
  at: number;
}

const T0 = Date.parse("2026-06-01T12:00:00Z");
const EVENT = "6f1c0000-0000-4000-8000-00000000e5e5";

export { rng };

export function scenario(seed: number, length: number): Scenario {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const reserved = r() < 0.6;
  const capacity = int(4, 16);
  const cap = int(2, 6);
  const holdTtlSeconds = int(30, 300);
  const config: InventoryConfig = {
    eventId: EVENT,
    seating: reserved ? "reserved" : "general",
    capacity,
    priceCents: 5000,
    currency: "EUR",
    maxSeatsPerUser: cap,
    holdTtlSeconds,
    paymentDeadlineSeconds: 600,
    waitlistOfferSeconds: int(30, 300),
    // Sometimes opening a few minutes in, so the first holds and joins are refused.
    salesStartMs: r() < 0.1 ? T0 + int(1, 30) * 60_000 : null,
    // Sometimes within reach of the time jumps, so sales also close by the clock.
    salesEndMs: r() < 0.2 ? T0 + int(1, 6) * 3_600_000 : T0 + 30 * 86_400_000,
  };
  const seats = reserved ? Array.from({ length: capacity }, (_, i) => ({ id: `A-1-${i + 1}`, priceCents: 1000 * int(1, 5) })) : [];
  const users = Array.from({ length: int(3, 6) }, (_, i) => `user-${i}`);
  const size = () => (r() < 0.1 ? cap + 1 : int(1, Math.min(cap, 4)));
  // Products draw from their own stream, so every seed's other steps stay as they were before types existed.
  const p = rng(seed * 7919 + 13);
  const pint = (lo: number, hi: number) => lo + Math.floor(p() * (hi - lo + 1));
  const products: ModelProducts | null =
    p() < 0.5
      ? {
          types: [
            { id: "tt_a", quota: pint(1, capacity), pool: "shared" },
            { id: "tt_b", quota: pint(1, Math.max(1, capacity - 2)), pool: "shared" },
            { id: "tt_c", quota: p() < 0.5 ? null : pint(1, 4), pool: "tt_c" },
          ],
          voucher: { id: "vch_sim", code: "SIM", maxUsages: pint(1, 3) },
        }
      : null;
  const steps: Step[] = [];
  for (let i = 0; i < length; i++) {
    // Pushes draw from the products stream only, so seeds without products keep their steps.
    if (products && p() < 0.05) {
      const y = p();
      steps.push({ t: "push", ty: pint(0, 2), change: y < 0.6 ? "quota" : y < 0.8 ? "delete" : "restore", quota: pint(0, capacity), stale: p() < 0.3 });
    }
    const x = r() * 100;
    const u = int(0, users.length - 1);
    const pick = int(0, 1 << 30);
    if (x < 30) {
      const q = size();
      let ids: number[] | null = null;
      if (reserved) {
        const k = Math.min(q, capacity);
        if (r() < 0.5) {
          const start = int(0, capacity - k);
          ids = Array.from({ length: k }, (_, j) => start + j);
        } else {
          const set = new Set<number>();
          while (set.size < k) set.add(int(0, capacity - 1));
          ids = [...set];
        }
      }
      const ty = products && p() < 0.7 ? pint(0, 2) : null;
      steps.push({ t: "hold", u, seats: ids, q: ids ? ids.length : q, key: r() < 0.25 ? int(0, 2) : null, ty, v: products !== null && p() < 0.4 });
    } else if (x < 42) steps.push({ t: "release", pick, by: r() < 0.6 ? "owner" : r() < 0.7 ? "system" : "other" });
    else if (x < 52) steps.push({ t: "confirm", pick, wrong: r() < 0.1 });
    else if (x < 60) steps.push({ t: "commit", pick, wrong: r() < 0.1 });
    else if (x < 63) steps.push({ t: "return", pick, wrong: r() < 0.1 });
    else if (x < 64) steps.push({ t: "restore", pick });
    else if (x < 74) steps.push({ t: "join", u, q: int(1, Math.min(cap + 1, 5)) });
    else if (x < 80) steps.push({ t: "leave", u });
    else if (x < 93) steps.push({ t: "tick", ms: int(1, Math.ceil(holdTtlSeconds * 0.6)) * 1000 });
    else if (x < 96) steps.push({ t: "alarm" });
    else if (x < 99.9) steps.push({ t: "restart" });
    else steps.push({ t: "close" });
  }
  return { seed, config, seats, products, ...interleaveOnSale(seed, users, steps) };
}

const bookingOf = (holdId: string, wrong: boolean) => (wrong ? "bk_someone_else" : `bk_${holdId}`);

function answer<T>(res: InventoryResult<T>, id: (v: T) => string): Answer {
  return res.ok ? { ok: true, id: id(res.value) } : { ok: false, code: res.code };
}

/** A hold to act on: mostly one in the status the step is about, sometimes any hold at all. */
function choose(model: ReferenceModel, pick: number, prefer: ModelHold["status"][]): ModelHold | null {
  if (model.order.length === 0) return null;
  const preferred = pick % 5 !== 0 ? model.live().filter((h) => prefer.includes(h.status)) : [];
  const pool = preferred.length ? preferred : model.order;
  return pool[(pick >>> 3) % pool.length];
}

export interface RunOptions {
  /** Collects what each step did (for reports). */
  trace?: string[];
  /** Builds the engine: the real one by default, or (in the harness's own test) one with a planted defect. */
  engine?: MakeEngine;
  /** Builds the object's admission gate: the real one by default, or one with a planted defect. */
  gate?: MakeGate;
  /** Changes what the simulated room reads of the object's admissionStats (a planted defect). */
  admissionStats?: (stats: AdmissionStats) => AdmissionStats;
}

/** What the object is published with: the scenario's event as the Worker would send it. */
function initOf(sc: Scenario): InventoryInit {
  const c = sc.config;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    eventId: c.eventId,
    seating: c.seating,
    seats: sc.seats.map((s, i) => ({ id: s.id, section: "A", row: "1", number: i + 1, priceCents: s.priceCents })),
    capacity: c.capacity,
    priceCents: c.priceCents,
    currency: c.currency,
    maxSeatsPerUser: c.maxSeatsPerUser,
    holdTtlSeconds: c.holdTtlSeconds,
    paymentDeadlineSeconds: c.paymentDeadlineSeconds,
    waitlistOfferSeconds: c.waitlistOfferSeconds,
    salesStartAt: c.salesStartMs === null ? null : iso(c.salesStartMs),
    salesEndAt: iso(c.salesEndMs),
    startsAt: iso(c.salesEndMs),
  };
}

/** Runs `steps` (then a drain to the end of every hold); null when every check passed. */
export async function run(sc: Scenario, steps: Step[], { trace, engine: make, gate: makeGate, admissionStats }: RunOptions = {}): Promise<Failure | null> {
  let now = T0;
  const obj = new SimObject(initOf(sc), () => now, make, makeGate);
  if (sc.products) {
    const pushed = obj.engine.setProducts(productSetOf(sc.products, 1));
    if (!pushed.ok) throw new Error(`the simulation's products are refused: ${pushed.message}`);
  }
  const model = new ReferenceModel(
    {
      seating: sc.config.seating,
      capacity: sc.config.capacity,
      seatIds: sc.seats.map((s) => s.id),
      maxSeatsPerUser: sc.config.maxSeatsPerUser,
      holdTtlMs: sc.config.holdTtlSeconds * 1000,
      offerTtlMs: sc.config.waitlistOfferSeconds * 1000,
      salesStartMs: sc.config.salesStartMs,
      salesEndMs: sc.config.salesEndMs,
      products: sc.products,
    },
    { offeredHoldId: (entryId) => obj.store.entryById(entryId)?.holdId ?? null },
  );
  const onsale = sc.onsale ? new OnSaleSim(obj, model, sc.users, sc.config.eventId, sc.onsale, admissionStats) : null;
  const rows = new Map<string, HoldRow>();
  let at = 0;
  const guard = async (fn: () => void | Promise<void>): Promise<Failure | null> => {
    try {
      await fn();
      check(obj, model, sc.users, now, rows);
      onsale?.check(now);
      return null;
    } catch (e) {
      if (e instanceof Mismatch) return { check: e.check, message: e.message, at };
      if (isConstraint(e)) return { check: "constraint", message: `the object's last line fired: ${(e as Error).message}`, at };
      return { check: "crash", message: String((e as Error)?.stack ?? e), at };
    }
  };
  /** What each step did, with the holds its picks resolved to and the object's answer (for reports). */
  const note = (what: string): void => {
    trace?.push(what);
  };
  /** Notes the call before making it (the object may throw), then its answer. */
  const act = (what: string, call: () => Answer): Answer => {
    note(what);
    const got = call();
    if (trace) trace[trace.length - 1] += ` -> ${got.ok ? `ok ${got.id}` : got.code}`;
    return got;
  };
  const doStep = (s: Step): void | Promise<void> => {
    const engine = obj.engine;
    switch (s.t) {
      case "hold": {
        const user = sc.users[s.u];
        const seatIds = s.seats ? s.seats.map((i) => sc.seats[i].id) : null;
        const key = s.key === null ? null : `key-${s.key}`;
        const typeId = s.ty === null || !sc.products ? DEFAULT_TYPE : sc.products.types[s.ty].id;
        const voucher = s.v && sc.products ? { voucher: sc.products.voucher.code } : {};
        const plain = typeId === DEFAULT_TYPE && !s.v;
        const body = plain
          ? seatIds ? { seatIds } : { quantity: s.q }
          : { ...(seatIds ? { seats: seatIds.map((id) => ({ id, ticketTypeId: typeId })) } : { items: [{ ticketTypeId: typeId, quantity: s.q }] }), ...voucher };
        const what = `${user} holds ${seatIds ? seatIds.join(",") : `${s.q} tickets`}${plain ? "" : ` of ${typeId}${s.v ? " with the voucher" : ""}`}${key ? ` with ${key}` : ""}`;
        const predict = (got: Answer) => model.hold(user, seatIds, s.q, key, now, got, typeId, s.v && sc.products !== null);
        if (onsale) {
          const call = async (admission: string | null) => answer(await obj.hold(user, body, key, admission), (h) => h.id);
          const answered = (got: Answer) => void (trace && (trace[trace.length - 1] += ` -> ${got.ok ? `ok ${got.id}` : got.code}`));
          return onsale.hold(what, user, s.a, now, call, predict, note, answered);
        }
        predict(act(what, () => answer(engine.hold(user, body, key), (h) => h.id)));
        return;
      }
      case "release": {
        const h = choose(model, s.pick, ["active", "confirming"]);
        if (!h) return note("release: no hold yet");
        const by = s.by === "system" ? null : s.by === "owner" ? h.userId : sc.users[(sc.users.indexOf(h.userId) + 1) % sc.users.length];
        const got = act(`release ${h.id} (${h.status}) by ${by ?? "the system"}`, () => answer(engine.release(h.id, by), (x) => x.id));
        model.release(h.id, by, now, got);
        return;
      }
      case "confirm":
      case "commit":
      case "return": {
        const h = choose(model, s.pick, [s.t === "confirm" ? "active" : s.t === "commit" ? "confirming" : "committed"]);
        if (!h) return note(`${s.t}: no hold yet`);
        const b = bookingOf(h.id, s.wrong);
        const call = s.t === "confirm" ? "beginConfirm" : s.t === "commit" ? "commit" : "returnSeats";
        const got = act(`${call} ${h.id} (${h.status}) for ${s.wrong ? "another booking" : "its booking"}`, () => answer(engine[call](h.id, b), (x) => x.id));
        model[call](h.id, b, now, got);
        return;
      }
      case "restore": {
        // Reconciliation repairs holds whose booking Postgres confirmed: those that had a booking.
        const booked = model.order.filter((x) => x.bookingId !== null);
        const h = booked.length ? booked[(s.pick >>> 3) % booked.length] : null;
        if (!h) return note("restoreBooking: no booked hold yet");
        const got = act(`restoreBooking ${h.id} (${h.status})`, () => answer(engine.restoreBooking(h.id, h.bookingId!), (x) => x.id));
        model.restore(h.id, h.bookingId!, now, got);
        return;
      }
      case "join": {
        const user = sc.users[s.u];
        const got = act(`${user} joins the waitlist for ${s.q}`, () => answer(engine.joinWaitlist(user, s.q), (v) => v.entry.id));
        model.join(user, s.q, now, got);
        return;
      }
      case "leave": {
        const user = sc.users[s.u];
        const got = act(`${user} leaves the waitlist`, () => answer(engine.leaveWaitlist(user), (e) => e.id));
        model.leave(user, now, got);
        return;
      }
      case "tick":
        now += s.ms;
        return note(`${s.ms / 1000} s pass`);
      case "alarm":
        note("the alarm runs");
        return obj.alarm(now).then(() => model.expire(now));
      case "restart":
        obj.restart();
        return note("the object restarts from its rows");
      case "close":
        engine.closeSales(now);
        model.closeSales(now);
        return note("the event is cancelled (closeSales)");
      case "push": {
        if (!sc.products || !model.products) return note("push: no products");
        const all = sc.products.types;
        const target = all[s.ty];
        const current = model.products.types;
        let types = current;
        if (s.change === "quota") types = current.map((t) => (t.id === target.id ? { ...t, quota: s.quota } : t));
        else if (s.change === "delete") types = current.filter((t) => t.id !== target.id);
        else if (!current.some((t) => t.id === target.id)) types = all.filter((t) => t.id === target.id || current.some((c) => c.id === t.id)).map((t) => current.find((c) => c.id === t.id) ?? t);
        const set: ModelProducts = { types, voucher: model.products.voucher };
        const revision = s.stale ? Math.max(0, model.revision - (s.quota % 2)) : model.revision + 1;
        const what = `push revision ${revision}: ${s.change === "quota" ? `${target.id} quota ${s.quota}` : `${target.id} ${s.change}d`}`;
        note(what);
        const got = engine.setProducts(productSetOf(set, revision));
        if (!got.ok) throw new Error(`the simulation's push is refused: ${got.message}`);
        if (trace) trace[trace.length - 1] += ` -> ${got.value.applied ? "applied" : `ignored (object at ${got.value.revision})`}`;
        model.push(set, revision, got.value, now);
        return;
      }
      case "onsale":
      case "admit":
      case "queue":
      case "tick-room":
        return onsale?.step(s, now, note);
      case "buy": {
        const h = onsale?.buy(s, sc.seats.map((x) => x.id), sc.config.maxSeatsPerUser, now);
        if (!h) return note("buy: no admitted buyer is waiting to hold");
        return doStep({ t: "hold", u: h.u, seats: h.seats, q: h.q, key: null, ty: null, v: false, a: h.a });
      }
    }
  };
  for (; at < steps.length; at++) {
    const f = await guard(() => doStep(steps[at]));
    if (f) return f;
  }
  // Drain: time runs out for every active hold and offer, every booking in flight ends (commit or
  // compensation), until nothing is open. Then every hold has ended exactly once.
  return guard(async () => {
    for (let round = 0; round < 100; round++) {
      const open = model.live().filter((h) => h.status !== "committed");
      if (open.length === 0) break;
      now += Math.max(sc.config.holdTtlSeconds, sc.config.waitlistOfferSeconds) * 1000 + 1;
      await obj.alarm(now);
      model.expire(now);
      check(obj, model, sc.users, now, rows);
      const engine = obj.engine;
      for (const h of model.live().filter((x) => x.status === "confirming").sort((a, b) => (a.id < b.id ? -1 : 1))) {
        // Paid or compensated by what the hold is, not by its id: removing a step while shrinking
        // shifts every later id and would otherwise flip how unrelated bookings end.
        const pay = (h.quantity + sc.users.indexOf(h.userId)) % 2 === 0;
        if (pay) model.commit(h.id, h.bookingId!, now, answer(engine.commit(h.id, h.bookingId!), (x) => x.id));
        else model.release(h.id, null, now, answer(engine.release(h.id, null), (x) => x.id));
        check(obj, model, sc.users, now, rows);
      }
    }
    // Whatever is still in the outbox leaves with the last alarm.
    await obj.alarm(now);
    checkEnded(obj, model);
  });
}

// -----------------------------------------------------------------------------------------------
// Checks after every step

function productSetOf(p: ModelProducts, revision: number): ProductSet {
  const type = (t: ModelProducts["types"][number]): TicketTypeDef => ({
    ...implicitDefaultType(),
    id: t.id,
    name: t.id,
    priceCents: 2000,
    quota: t.quota,
    quotaPool: t.pool === t.id ? null : t.pool,
  });
  return {
    revision,
    types: p.types.map(type),
    vouchers: [{ id: p.voucher.id, code: p.voucher.code, discount: { kind: "percent", value: 10 }, maxUsages: p.voucher.maxUsages, validFromMs: null, validUntilMs: null, ticketTypeIds: null, unlocksHidden: false }],
  };
}

function fail(check: string, message: string): never {
  throw new Mismatch(check, message);
}

const sameSeats = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** `rows`: the hold rows as last read, kept from step to step. */
function check(obj: SimObject, model: ReferenceModel, users: string[], now: number, rows: Map<string, HoldRow>): void {
  const config = obj.config;
  const { store } = obj;
  // Rows: every hold that moved (by the engine's writes or the model's reckoning) is read again; a
  // row nobody wrote is as it was last read (the store changes hold rows only where it is watched).
  if (store.holdIds.length !== model.holds.size) fail("holds", `the object has ${store.holdIds.length} holds, the model ${model.holds.size}`);
  const ids = store.takeWritten();
  for (const id of model.touched) ids.add(id);
  for (const id of ids) {
    const e = store.holdById(id);
    if (e) rows.set(id, e);
    else rows.delete(id);
    const m = model.holds.get(id);
    if (!e || !m) fail("holds", `hold ${id} exists in only one of the object and the model`);
    if (e.status !== m.status || e.userId !== m.userId || e.quantity !== m.quantity || e.expiresAt !== m.expiresAt || e.bookingId !== m.bookingId) {
      fail("hold row", `hold ${id}: object ${JSON.stringify({ s: e.status, u: e.userId, q: e.quantity, exp: e.expiresAt, b: e.bookingId })}, model ${JSON.stringify({ s: m.status, u: m.userId, q: m.quantity, exp: m.expiresAt, b: m.bookingId })}`);
    }
    if (!sameSeats(e.seats.map((s) => s.id), m.seats)) fail("hold row", `hold ${id} holds seats ${e.seats.map((s) => s.id)} in the object, ${m.seats} in the model`);
  }
  model.touched = new Set();

  // No seat in two live holds; every seat row says who owns it.
  const owners = model.owners();
  const live = model.live();
  const engineOwners = new Map<string, string>();
  for (const h of live) {
    const row = rows.get(h.id);
    if (!row) fail("holds", `live hold ${h.id} has no row in the object`);
    for (const s of row.seats) {
      if (engineOwners.has(s.id)) fail("oversell", `seat ${s.id} is in two live holds, ${engineOwners.get(s.id)} and ${h.id}`);
      engineOwners.set(s.id, h.id);
    }
  }
  let seatHeld = 0;
  let seatBooked = 0;
  const seatRows = obj.seatRows();
  // The engine reads seats from memory: memory and rows must say the same.
  const memory = obj.engine.holds.seatMap() ?? [];
  if (memory.length !== seatRows.length || memory.some((s, i) => s.id !== seatRows[i].id || s.status !== seatRows[i].status)) {
    fail("seat row", `the object's seats in memory (${memory.map((s) => s.status[0]).join("")}) differ from its rows (${seatRows.map((s) => s.status[0]).join("")})`);
  }
  for (const row of seatRows) {
    const o = owners.get(row.id);
    const want = o ? (o.status === "committed" ? "booked" : "held") : "available";
    if (row.status !== want || row.holdId !== (o?.id ?? null)) {
      fail("seat row", `seat ${row.id} is ${row.status} for ${row.holdId}, should be ${want} for ${o?.id ?? null}`);
    }
    if (row.status === "held") seatHeld++;
    if (row.status === "booked") seatBooked++;
  }

  // Counters equal the rows (general admission also keeps them in its `inventory` row).
  const c = obj.counters();
  const m = model.heldAndBooked();
  if (c.held !== m.held || c.booked !== m.booked) fail("counters", `object counts held ${c.held} booked ${c.booked}, its holds say ${m.held} and ${m.booked}`);
  if (config.seating === "reserved" && (c.held !== seatHeld || c.booked !== seatBooked)) {
    fail("counters", `object counts held ${c.held} booked ${c.booked}, its seat rows say ${seatHeld} and ${seatBooked}`);
  }
  const stored = config.seating === "general" ? obj.storedCounters() : c;
  if (config.seating === "general" && (stored.held !== c.held || stored.booked !== c.booked)) {
    fail("counters", `object counts held ${c.held} booked ${c.booked} in memory, its stored counters say ${stored.held} and ${stored.booked}`);
  }
  if (c.held < 0 || c.booked < 0 || c.held + c.booked > config.capacity) fail("oversell", `held ${c.held} + booked ${c.booked} against capacity ${config.capacity}`);

  // Per-user caps, exactly: nobody above, and the object's cached totals are the truth.
  for (const u of users) {
    const total = model.userTotal(u);
    const restored = model.live().reduce((sum, h) => sum + (h.userId === u && h.restored ? h.quantity : 0), 0);
    if (total - restored > config.maxSeatsPerUser) fail("cap", `${u} holds or bought ${total} above the cap of ${config.maxSeatsPerUser}`);
    const cached = obj.cachedUserTotal(u);
    if (cached !== undefined && cached !== total) fail("cap", `the object believes ${u} has ${cached}, the holds say ${total}`);
  }

  // Products: the object's usage per type and per voucher equals what the live holds carry, and no
  // quota or voucher is over its limit (holds reconciliation restored are outside them, as the cap).
  const products = model.products;
  if (products) {
    const stats = obj.engine.holds.productStats();
    if (stats.revision !== model.revision) fail("products push", `the object holds revision ${stats.revision}, the model ${model.revision}`);
    // Types deleted by a push are not in the object's figures; their holds still count for the event.
    for (const t of [...products.types, { id: DEFAULT_TYPE, quota: null, pool: DEFAULT_TYPE }]) {
      const used = model.live().reduce((n, h) => n + (h.typeId === t.id ? h.quantity : 0), 0);
      const got = stats.types.find((x) => x.ticketTypeId === t.id);
      if ((got?.used ?? 0) !== used) fail("products", `the object counts ${got?.used ?? 0} of ${t.id}, its live holds carry ${used}`);
      if (got && got.quota !== t.quota) fail("products push", `the object sells ${t.id} with quota ${got.quota}, the newest set says ${t.quota}`);
      if (t.quota === null) continue;
      const pool = model.unrestoredPoolUsed(t.pool);
      const limit = Math.max(...products.types.filter((x) => x.pool === t.pool).map((x) => x.quota ?? Infinity));
      const ceiling = Math.max(limit, model.ceilings.get(t.pool) ?? 0);
      if (pool > ceiling) fail("quota", `pool ${t.pool} holds ${pool}, above every quota of its types (${limit})${ceiling > limit ? ` and the ${ceiling} held when it was lowered` : ""}`);
    }
    const deleted = stats.types.find((x) => x.ticketTypeId !== DEFAULT_TYPE && !products.types.some((t) => t.id === x.ticketTypeId));
    if (deleted) fail("products push", `the object still sells ${deleted.ticketTypeId}, deleted by the newest set`);
    const usages = stats.vouchers[0]?.usages ?? 0;
    if (usages !== model.voucherUsages()) fail("products", `the object counts ${usages} voucher usages, its live holds carry ${model.voucherUsages()}`);
    const unrestored = model.live().filter((h) => h.voucher && !h.restored).length;
    if (unrestored > products.voucher.maxUsages) fail("voucher", `${unrestored} holds use the voucher, max ${products.voucher.maxUsages}`);
  }

  // The waitlist: same entries, offers in strict arrival order, nobody left waiting for seats that are free.
  const waitlist = store.entries();
  if (waitlist.length !== model.entries.length) fail("waitlist", `the object has ${waitlist.length} entries, the model ${model.entries.length}`);
  waitlist.forEach((e, i) => {
    const me = model.entries[i];
    if (e.id !== me.id || e.status !== me.status || e.holdId !== me.holdId || e.quantity !== me.quantity || e.userId !== me.userId) {
      fail("waitlist", `entry ${e.id} of ${e.userId}: object ${e.status} hold ${e.holdId}, model ${me.status} hold ${me.holdId}`);
    }
    if (i > 0 && e.seq <= waitlist[i - 1].seq) fail("waitlist order", `entry ${e.id} is out of arrival order`);
  });
  for (const offered of model.offeredNow) {
    const i = waitlist.findIndex((e) => e.id === offered.id);
    const ahead = waitlist.slice(0, i).find((e) => e.status === "waiting");
    if (ahead) fail("waitlist order", `${offered.id} was offered seats while ${ahead.id}, earlier in line, still waits`);
  }
  model.offeredNow = [];
  const stuck = waitlist.find((e) => e.status === "waiting" && e.quantity > config.capacity);
  if (stuck) fail("waitlist served", `${stuck.id} of ${stuck.userId} waits for ${stuck.quantity}, more than the ${config.capacity} the event has: nobody behind it can ever be served`);
  const head = waitlist.find((e) => e.status === "waiting");
  const available = config.capacity - c.held - c.booked;
  const open = config.cancelledMs === undefined && (config.salesStartMs === null || now >= config.salesStartMs) && now < config.salesEndMs;
  if (head && open && !model.waitlistClosed && model.userTotal(head.userId) + head.quantity <= config.maxSeatsPerUser && head.quantity <= available) {
    fail("waitlist served", `${head.id} of ${head.userId} waits first in line for ${head.quantity} while ${available} are free`);
  }
}

/** After the drain: every hold ended once, its history (the outbox relayed to Postgres) tells the same story. */
function checkEnded(obj: SimObject, model: ReferenceModel): void {
  if (obj.store.outboxPending()) fail("final state", "the alarm left rows in the outbox");
  const history = new Map<string, string[]>();
  for (const row of obj.history()) {
    const list = history.get(row.holdId) ?? [];
    list.push(row.kind);
    history.set(row.holdId, list);
  }
  for (const h of model.order) {
    const e = obj.store.holdById(h.id)!;
    if (!(e.status === "released" || e.status === "expired" || e.status === "committed")) fail("final state", `hold ${h.id} never ended (${e.status})`);
    const kinds = (history.get(h.id) ?? []).join(",");
    if (!endsOnce(history.get(h.id) ?? [])) fail("final state", `hold ${h.id} has history ${kinds || "(none)"}`);
    if (kinds !== h.history.join(",")) fail("final state", `hold ${h.id} has history ${kinds}, the model ${h.history.join(",")}`);
  }
  const offers = model.entries.filter((e) => e.holdId !== null).length;
  const notes = obj.notificationCount("waitlist.offered");
  if (notes !== offers) fail("final state", `${notes} offer notifications for ${offers} offers`);
  // Closing sales tells each entry it ended while waiting, once (an offered one is told by its hold).
  const ended = model.entries.filter((e) => e.status === "cancelled" && e.holdId === null).length;
  const told = obj.notificationCount("waitlist.event-cancelled");
  if (told !== ended) fail("final state", `${told} cancellation notifications for ${ended} entries ended waiting`);
}

/**
 * Created once, then each step a real move: live -> committed or ended; committed -> ended (seats
 * returned); ended -> committed (reconciliation's restore). It must finish committed or ended.
 */
function endsOnce(kinds: string[]): boolean {
  if (kinds[0] !== "created") return false;
  let state: "live" | "committed" | "ended" = "live";
  for (const k of kinds.slice(1)) {
    if (k === "committed" && state !== "committed") state = "committed";
    else if (k === "expired" && state === "live") state = "ended";
    else if (k === "released" && state !== "ended") state = "ended";
    else return false;
  }
  return state !== "live";
}

// -----------------------------------------------------------------------------------------------
// Shrinking and reporting

/**
 * The shortest sequence found that still fails the same check: chunks of steps removed, then single
 * steps, again until nothing more can go; steps after the failing one are cut at once.
 */
export async function shrink(sc: Scenario, failure: Failure, options: RunOptions = {}): Promise<{ steps: Step[]; failure: Failure }> {
  let steps = sc.steps.slice(0, failure.at + 1);
  let current = (await run(sc, steps, options)) ?? failure;
  const same = (f: Failure | null) => f !== null && f.check === current.check;
  for (let before = Infinity; steps.length < before; ) {
    before = steps.length;
    for (let size = Math.max(1, steps.length >> 1); size >= 1; size = size === 1 ? 0 : size >> 1) {
      for (let i = 0; i + size <= steps.length; ) {
        const candidate = steps.slice(0, i).concat(steps.slice(i + size));
        const f = await run(sc, candidate, options);
        if (same(f)) {
          steps = candidate.slice(0, f!.at + 1);
          current = f!;
        } else i += size;
      }
    }
  }
  return { steps, failure: current };
}

/** Hold ids carry the event id: `hold#…` keeps a report readable. */
const short = (text: string) => text.replace(/hld_[0-9a-f-]{36}_0*([0-9a-z]+)/g, "hold#$1");

export async function report(sc: Scenario, failure: Failure, options: RunOptions = {}): Promise<string> {
  return short(await fullReport(sc, failure, options));
}

async function fullReport(sc: Scenario, failure: Failure, options: RunOptions): Promise<string> {
  const shrunk = await shrink(sc, failure, options);
  const trace: string[] = [];
  await run(sc, shrunk.steps, { ...options, trace });
  const c = sc.config;
  return [
    `seed ${sc.seed} fails: ${failure.message}`,
    `event: ${c.seating}, capacity ${c.capacity}, cap ${c.maxSeatsPerUser} per user, hold ${c.holdTtlSeconds} s, offer ${c.waitlistOfferSeconds} s, sales ${c.salesStartMs === null ? "open" : `open after ${(c.salesStartMs - T0) / 60_000} min`} and end after ${Math.round((c.salesEndMs - T0) / 3_600_000)} h, ${sc.users.length} users`,
    ...(sc.onsale ? [`on-sale: the waiting room admits for ${sc.onsale.sessionSeconds} s sessions${sc.onsale.room ? `, run by the room itself (${JSON.stringify(sc.onsale.room)})` : ""}`] : []),
    `shortest reproduction (${shrunk.steps.length} steps, then the drain), failing with: ${shrunk.failure.message}`,
    ...trace.map((t, i) => `  ${i + 1}. ${t}`),
    `  then the drain (time runs out, bookings in flight end)`,
    `the steps as data: ${JSON.stringify(shrunk.steps)}`,
    `rerun this seed alone: SIM_SEED=${sc.seed} npx vitest run --project unit test/unit/inventory-simulation.test.ts`,
  ].join("\n");
}
