/**
 * On-sale admission in the oversell simulation (docs/onsale.md, issue 24): some seeds put the
 * waiting room in front of the event. Their steps switch the inventory's gate on (a new on-sale: the
 * next generation, or the same PUT repeated) and off, have the queue shards sign admissions (valid,
 * brief, already over, of an earlier on-sale, of another user or event, signed with another key),
 * and their holds present one of them (or none). The gate is the real AdmissionGate over the
 * object's key-value storage (object.ts: it survives restarts, as the object's does), wired as
 * EventInventory wires it.
 *
 * The model of the gate predicts each hold's answer from the admission's claims alone: while on,
 * no admission or a bad one is NOT_ADMITTED, one of another on-sale ADMISSION_SUPERSEDED, a valid
 * one lets the hold through to the rules of the reference model. After every step it checks that
 * no hold was made while the room is on without a valid admission (a waitlist offer included: the
 * waitlist is closed then), that the gate is where the room left it, and that the counts the
 * coordinator reads (admissions in session that held) and the entries the gate keeps are exact.
 *
 * Half these seeds run the room itself: the coordinator's and shards' pure modules (RoomSim over
 * room.logic.ts and shard.logic.ts), ticking against the object's admissionStats as WaitingRoom
 * does, so valid admissions come only from its ticks; a crowd queues when a room opens, ticks come
 * in runs with admitted buyers holding between them, most taking the cap. Its free-seat rule is
 * checked: an admitted buyer whose first hold comes within FIRST_HOLD_GRACE_MS of admission finds
 * a seat free, unless something the rule does not reserve for took seats since (a hold that is not
 * such a first hold, a restore, the room switched). Not simulated: the room's own restarts and lost
 * shard answers (test/workers/onsale-seams.test.ts).
 */
import { admissionKey, signAdmission, type AdmissionSecrets } from "../../../durable-objects/onsale/contract";
import type { AdmissionStats } from "../../../durable-objects/inventory/contract";
import { FIRST_HOLD_GRACE_MS } from "../../../durable-objects/onsale/room.logic";
import { RoomSim } from "../onsale-sim";
import { rng } from "../random";
import { Mismatch, type Answer, type ReferenceModel } from "./model";
import { SIM_ADMISSION_SECRETS, type SimObject } from "./object";

/**
 * valid: for the holder, this event, the current on-sale, a whole session; brief: the same, over
 * in a few seconds; over: its session ended already; earlier: of the on-sale before; other-user,
 * other-event: signed for someone or something else; forged: signed with another key.
 */
export type AdmissionKind = "valid" | "brief" | "over" | "earlier" | "other-user" | "other-event" | "forged" | "room";

export type OnSaleStep =
  /** `fresh`: a new on-sale (the next generation); otherwise the current one's PUT repeated. */
  | { t: "onsale"; on: true; fresh: boolean }
  | { t: "onsale"; on: false }
  /** A queue shard admits user `u`; `s` seconds of session (brief, valid) or since it ended (over). */
  | { t: "admit"; u: number; kind: AdmissionKind; s: number }
  /**
   * Room seeds: user `u` (-1: everyone) joins the room's queue; the room ticks; the `pick`-th
   * admitted buyer who has not held yet holds `q` (0: as many as the cap lets them).
   */
  | { t: "queue"; u: number }
  | { t: "tick-room" }
  | { t: "buy"; q: number; pick: number };

export interface OnSalePlan {
  /** The room's `shopperSessionSeconds`. */
  sessionSeconds: number;
  /**
   * Half these seeds run the room itself (its pure modules, RoomSim) against the object: admissions
   * come only from its ticks, which read the object's admissionStats, and its free-seat rule is
   * checked (see `OnSaleSim.hold`). The others sign valid admissions at random.
   */
  room: { shards: number; maxActiveShoppers: number; admitPerMinute: number | null } | null;
}

/**
 * A hold step's admission (`a`): null presents none; n >= 0 presents, when n % 8 = 7, any admission
 * signed so far, else one of the holder's own (the newest, or when n % 3 = 0 an older one); -k the
 * k-th admission (a `buy`).
 */
export type AdmissionPick = number | null;

const OTHER_EVENT = "6f1c0000-0000-4000-8000-0000000000aa";
const FORGED_SECRETS: AdmissionSecrets = { ADMISSION_SECRET: "not-the-simulation-key-but-long-enough-0123456789" };

/**
 * Interleaves on-sale steps into a scenario's steps for about 2 seeds in 5 (and gives each hold an
 * admission to present; room seeds also get their crowd of buyers), drawing from the seed's own
 * on-sale stream, so the other seeds, and the other steps of these, stay as they were.
 */
export function interleaveOnSale<S extends { t: string }>(seed: number, people: string[], steps: S[]): { users: string[]; onsale: OnSalePlan | null; steps: (S | OnSaleStep)[] } {
  const o = rng(seed * 15_485_863 + 101);
  const int = (lo: number, hi: number) => lo + Math.floor(o() * (hi - lo + 1));
  if (o() >= 0.4) return { users: people, onsale: null, steps };
  const plan: OnSalePlan = { sessionSeconds: int(60, 600), room: null };
  // Room seeds bring a crowd of buyers who only queue and buy (the other steps keep to the first users).
  let users = people;
  if (o() < 0.5) {
    plan.room = { shards: int(1, 3), maxActiveShoppers: o() < 0.3 ? int(1, 4) : 1_000, admitPerMinute: o() < 0.3 ? int(1, 30) : null };
    users = [...people, ...Array.from({ length: int(6, 20) }, (_, i) => `buyer-${i}`)];
  }
  const out: (S | OnSaleStep)[] = [];
  // A new room draws a crowd: every buyer queues at once.
  const fresh = (): void => void out.push({ t: "onsale", on: true, fresh: true }, ...(plan.room ? [{ t: "queue" as const, u: -1 }] : []));
  if (o() < 0.7 || plan.room) fresh();
  for (const step of steps) {
    const x = o();
    if (x < 0.01) fresh();
    else if (x < 0.015) out.push({ t: "onsale", on: true, fresh: false });
    else if (x < 0.025) out.push({ t: "onsale", on: false });
    else if (x < 0.16) {
      const y = o();
      // In room seeds, valid admissions come only from the room's ticks.
      if (plan.room && y < 0.6) {
        if (o() < 0.5) for (let k = int(1, 4); k > 0; k--) out.push({ t: "queue", u: int(0, users.length - 1) });
        else {
          // Ticks in a row (the room ticks every second) with some admitted buyers holding between
          // them; most take the cap: the worst case the room's free-seat rule is made for.
          do {
            out.push({ t: "tick-room" });
            for (let k = int(0, 2); k > 0; k--) out.push({ t: "buy", q: o() < 0.7 ? 0 : int(1, 4), pick: int(0, 1 << 30) });
          } while (o() < 0.6);
        }
      } else {
        const kind: AdmissionKind = y < 0.5 ? "valid" : y < 0.6 ? "brief" : y < 0.7 ? "over" : y < 0.8 ? "earlier" : y < 0.9 ? "other-user" : y < 0.95 ? "other-event" : "forged";
        out.push({ t: "admit", u: int(0, people.length - 1), kind, s: kind === "brief" ? int(1, 5) : kind === "over" ? int(0, 60) : plan.sessionSeconds });
      }
    }
    out.push(step.t === "hold" ? { ...step, a: o() < 0.85 ? int(0, 1 << 30) : null } : step);
  }
  return { users, onsale: plan, steps: out };
}

interface Admission {
  /** Its number in the run, for reports. */
  n: number;
  kind: AdmissionKind;
  token: string;
  /** Who was handed it (the one whose holds present it). */
  holder: string;
  /** Its claims. */
  userId: string;
  eventId: string;
  expiresAt: number;
  generation: number;
  jti: string;
  forged: boolean;
  /** Signed by the room's shard at a tick: when, and the count of seats taken outside the room's promise by then. */
  room?: { admittedAt: number; disturbance: number };
}

function fail(check: string, message: string): never {
  throw new Mismatch(check, message);
}

const show = (a: Answer) => (a.ok ? `ok ${a.id}` : a.code);

/** The waiting room and its shards (as far as the gate sees them) and the model of the gate. */
export class OnSaleSim {
  private readonly admissions: Admission[] = [];
  /** The model: the gate is on, at this generation; the latest generation the room has started. */
  private on = false;
  private generation = 0;
  private started = 0;
  /** Admissions of the current generation that held: jti -> session end. */
  private readonly held = new Map<string, number>();
  /** Seats held with admissions of the current generation (the gate's seats per buyer = this / held.size). */
  private seatsHeld = 0;
  /** Holds the gate let through: hold id -> the admission and when. */
  private readonly granted = new Map<string, { admission: Admission | null; holder: string; at: number; generation: number }>();
  /** Hold rows already looked at (store.holdIds is in creation order). */
  private seen = 0;
  private keys: Promise<[CryptoKey, CryptoKey]> | null = null;
  /** Room seeds: the room of the current on-sale (null while ended), and the generation it was started for. */
  private room: { sim: RoomSim; generation: number } | null = null;
  /**
   * Counts every step that took seats the room's free-seat rule does not reserve for: a hold that
   * is not an admitted buyer's first within FIRST_HOLD_GRACE_MS, a restore, a waitlist offer, a
   * switch of the room. The rule promises a seat only to an admitted buyer none of these came before.
   */
  private disturbance = 0;
  /** Seats live holds took, as of the last step, and what first holds within the grace took this step. */
  private taken = 0;
  private promised = 0;

  constructor(
    private readonly obj: SimObject,
    private readonly model: ReferenceModel,
    private readonly users: string[],
    private readonly eventId: string,
    private readonly plan: OnSalePlan,
    /** What the room reads of the object's admissionStats (changed only to plant a defect). */
    private readonly view: (stats: AdmissionStats) => AdmissionStats = (stats) => stats,
  ) {}

  /** A step of the room or its shards (a `buy` is a hold: see `buy`). */
  async step(s: Exclude<OnSaleStep, { t: "buy" }>, now: number, note: (what: string) => void): Promise<void> {
    if (s.t === "onsale") {
      if (s.on) {
        const generation = s.fresh ? this.started + 1 : this.generation;
        note(s.fresh ? `the room goes on: a new on-sale, generation ${generation}` : `the room's PUT is repeated (generation ${generation})`);
        // EventInventory.setOnSale, as the WaitingRoom's configure() calls it.
        this.obj.setOnSale(true, generation);
        this.started = Math.max(this.started, generation);
        if (generation !== this.generation) {
          this.held.clear();
          this.seatsHeld = 0;
        }
        this.generation = generation;
        this.on = true;
        this.model.waitlistClosed = true;
        // A new on-sale is a new room, opening now; a repeated PUT keeps the room (an ended one stays ended).
        if (this.plan.room && s.fresh) {
          const r = this.plan.room;
          this.room = {
            generation,
            sim: new RoomSim({ eventId: this.eventId, opensAt: now, shards: r.shards, maxActiveShoppers: r.maxActiveShoppers, admitPerMinute: r.admitPerMinute, shopperSessionSeconds: this.plan.sessionSeconds, powDifficulty: 0, enabled: true, generation }, rng(generation * 31 + now)),
          };
        }
        this.disturbance++;
      } else {
        note("the room ends (DELETE): holds are open to all again");
        this.end(now);
      }
      return;
    }
    if (s.t === "queue") {
      const who = s.u < 0 ? this.users : [this.users[s.u]];
      if (!this.room) return note(`${s.u < 0 ? "a crowd" : who[0]} finds no waiting room to queue in`);
      for (const user of who) this.room.sim.join(user, now);
      return note(`${s.u < 0 ? "everyone" : who[0]} queues in the waiting room`);
    }
    if (s.t === "tick-room") return this.tickRoom(now, note);
    const holder = this.users[s.u];
    const [key, forgedKey] = await (this.keys ??= Promise.all([admissionKey(SIM_ADMISSION_SECRETS), admissionKey(FORGED_SECRETS)]));
    const second = Math.floor(now / 1000) * 1000;
    const a: Admission = {
      n: this.admissions.length + 1,
      kind: s.kind,
      token: "",
      holder,
      userId: s.kind === "other-user" ? this.users[(s.u + 1) % this.users.length] : holder,
      eventId: s.kind === "other-event" ? OTHER_EVENT : this.eventId,
      expiresAt: s.kind === "over" ? second - s.s * 1000 : second + s.s * 1000,
      // A shard signs with the room's latest on-sale (whether the gate has it or not).
      generation: s.kind === "earlier" ? Math.max(0, this.started - 1) : this.started,
      jti: `adm-${this.admissions.length + 1}`,
      forged: s.kind === "forged",
    };
    a.token = await signAdmission(a.forged ? forgedKey : key, a);
    this.admissions.push(a);
    note(`a shard admits ${holder}: ${this.describe(a, now)}`);
  }

  /** The room ends: the gate goes off, holds are open to all again. */
  private end(now: number): void {
    this.obj.setOnSale(false);
    this.on = false;
    this.room = null;
    this.disturbance++;
    this.model.reopenWaitlist(now);
  }

  /**
   * The room's tick (WaitingRoom.tickOnce): it reads the object's admissionStats (which expires
   * holds that are due, so the model expires them too), ends itself when the sales are over, else
   * decides over its pure modules whom to admit, and each admitted visitor's shard signs their token.
   */
  private async tickRoom(now: number, note: (what: string) => void): Promise<void> {
    if (!this.room || !this.on) return note("the room does not tick: it is off");
    const inv = this.view(this.obj.admissionStats(now));
    this.model.expire(now);
    if (inv.salesOver) {
      note("the room ticks, finds the sales over and ends");
      return this.end(now);
    }
    const fresh = this.room.sim.tick(inv, now);
    const [key] = await (this.keys ??= Promise.all([admissionKey(SIM_ADMISSION_SECRETS), admissionKey(FORGED_SECRETS)]));
    for (const v of fresh) {
      const a: Admission = {
        n: this.admissions.length + 1,
        kind: "room",
        token: "",
        holder: v.userId,
        userId: v.userId,
        eventId: this.eventId,
        expiresAt: v.expiresAt,
        generation: this.room.generation,
        jti: `adm-${this.admissions.length + 1}`,
        forged: false,
        room: { admittedAt: now, disturbance: this.disturbance },
      };
      a.token = await signAdmission(key, a);
      this.admissions.push(a);
    }
    note(`the room ticks (${inv.available} free, ${inv.held} held, ${inv.admissionsUsed} admissions held) and admits ${fresh.length ? fresh.map((v) => v.userId).join(", ") : "nobody"}`);
  }

  /**
   * A `buy` step: the `pick`-th room admission in session whose buyer has not held with it yet
   * holds `q` at once (reserved seating: the first free seats); null when there is none.
   */
  buy(s: { q: number; pick: number }, seatIds: string[], cap: number, now: number): { u: number; seats: number[] | null; q: number; a: AdmissionPick } | null {
    const waiting = this.admissions.filter((a) => a.room && !this.held.has(a.jti) && a.expiresAt > now && a.generation === this.generation);
    if (waiting.length === 0) return null;
    const a = waiting[s.pick % waiting.length];
    const q = s.q || Math.max(1, cap - this.model.userTotal(a.holder));
    let seats: number[] | null = null;
    if (seatIds.length) {
      const owners = this.model.owners();
      seats = seatIds.map((id, i) => (owners.has(id) ? -1 : i)).filter((i) => i >= 0).slice(0, q);
      if (seats.length === 0) seats = [0];
    }
    return { u: this.users.indexOf(a.holder), seats, q: seats ? seats.length : q, a: -a.n };
  }

  /**
   * A hold step while this seed has on-sale: through the object's gated hold with the admission the
   * step picks; the gate's model predicts a refusal, else the reference model predicts the rest.
   */
  async hold(
    what: string,
    holder: string,
    pick: AdmissionPick | undefined,
    now: number,
    call: (admission: string | null) => Promise<Answer>,
    predict: (got: Answer) => void,
    note: (what: string) => void,
    answered: (got: Answer) => void,
  ): Promise<void> {
    const a = this.pick(holder, pick ?? null);
    const presented = a ? `presenting ${this.describe(a, now)}` : "presenting no admission";
    note(`${what}, ${presented}`);
    const before = this.obj.store.holdIds.length;
    // The room's promise: an admitted buyer who makes their first hold within the grace finds at
    // least one seat free, if nothing outside the promise took seats since their admission.
    const promised =
      this.on && a?.room !== undefined && !this.held.has(a.jti) && a.generation === this.generation && now < a.expiresAt && now - a.room.admittedAt < FIRST_HOLD_GRACE_MS;
    const free = promised ? this.freeNow(now) : 0;
    const got = await call(a?.token ?? null);
    answered(got);
    if (promised && a.room!.disturbance === this.disturbance && free < 1 && !(!got.ok && got.code === "SALES_CLOSED")) {
      fail("free-seat rule", `${what}: ${holder} was admitted by the room ${(now - a.room!.admittedAt) / 1000} s ago, holds for the first time within the ${FIRST_HOLD_GRACE_MS / 1000} s grace and finds no seat free (nothing outside the room took seats since)`);
    }
    const fault = this.on ? this.fault(holder, a, now) : null;
    if (fault) {
      const want = fault === "of an earlier on-sale" ? "ADMISSION_SUPERSEDED" : "NOT_ADMITTED";
      if (got.ok || got.code !== want) fail("admission", `${what}, ${presented}: the room is on and the admission is ${fault}, so the gate should answer ${want}; the object answered ${show(got)}`);
      return;
    }
    if (!got.ok && (got.code === "NOT_ADMITTED" || got.code === "ADMISSION_SUPERSEDED")) {
      fail("admission", `${what}, ${presented}: ${this.on ? "a valid admission" : "the room is off, yet the hold"} was refused with ${got.code}`);
    }
    predict(got);
    // A replay (a key that made its hold before) makes no hold and uses no admission.
    const made = this.obj.store.holdIds.slice(before);
    if (!this.on || !got.ok || !a || made.length === 0) return;
    this.held.set(a.jti, a.expiresAt);
    for (const id of made) {
      this.granted.set(id, { admission: a, holder, at: now, generation: this.generation });
      this.seatsHeld += this.model.holds.get(id)?.quantity ?? 0;
      if (promised) this.promised += this.model.holds.get(id)?.quantity ?? 0;
    }
  }

  /** Seats free for a hold now: what is free, and what holds due to expire give back. */
  private freeNow(now: number): number {
    let due = 0;
    for (const h of this.model.live()) if (h.status === "active" && h.expiresAt! <= now) due += h.quantity;
    return this.model.available() + due;
  }

  /** After every step: the gate as the room left it, no hold past it while on, its counts exact. */
  check(now: number): void {
    // Seats taken beyond what promised first holds took this step: outside the room's promise.
    const { held, booked } = this.model.heldAndBooked();
    if (held + booked > this.taken + this.promised) this.disturbance++;
    this.taken = held + booked;
    this.promised = 0;
    const gate = this.obj.gate;
    if (gate.onSale !== this.on) fail("admission", `the gate is ${gate.onSale ? "on" : "off"}, the room switched it ${this.on ? "on" : "off"}`);
    if (gate.currentGeneration !== this.generation) fail("admission", `the gate is at generation ${gate.currentGeneration}, the room's on-sale is ${this.generation}`);
    const ids = this.obj.store.holdIds;
    for (; this.seen < ids.length; this.seen++) {
      const id = ids[this.seen];
      if (!this.on) continue;
      const g = this.granted.get(id);
      if (!g) fail("admission", `hold ${id} was made while the room is on without passing the gate${this.obj.store.entries().some((e) => e.holdId === id) ? " (a waitlist offer: the waitlist is closed while the room is on)" : ""}`);
      const fault = g.generation === this.generation ? this.fault(g.holder, g.admission, g.at) : "of an earlier on-sale";
      if (fault) fail("admission", `hold ${id} was granted to ${g.holder} on an admission ${fault}`);
    }
    // What the coordinator reads at each tick (admissionStats): admissions in session that held.
    let inSession = 0;
    for (const end of this.held.values()) if (end > now) inSession++;
    const stats = gate.stats(now);
    if (stats.admissionsUsed !== inSession) fail("admission stats", `the gate counts ${stats.admissionsUsed} admissions in session that held, the holds say ${inSession}`);
    // What the room plans each admitted buyer to take: a retried hold counts once.
    const perBuyer = this.held.size ? this.seatsHeld / this.held.size : null;
    if (stats.seatsPerBuyer !== perBuyer) fail("admission stats", `the gate plans ${stats.seatsPerBuyer} seats per admitted buyer, the holds made with admissions say ${perBuyer}`);
    // Bounded: once read, the gate keeps an entry only for those.
    const kept = gate.entries();
    if (kept !== inSession) fail("admission stats", `the gate keeps ${kept} admission entries, ${inSession} admissions that held are in session`);
  }

  /** Why the gate must refuse this admission from this holder now (null: it is valid). */
  private fault(holder: string, a: Admission | null, now: number): string | null {
    if (!a) return "missing";
    if (a.forged) return "not signed with our key";
    if (a.eventId !== this.eventId) return "for another event";
    if (a.userId !== holder) return "of another user";
    if (now >= a.expiresAt) return "over (its session ended)";
    if (a.generation !== this.generation) return "of an earlier on-sale";
    return null;
  }

  private pick(holder: string, pick: AdmissionPick): Admission | null {
    if (pick === null || this.admissions.length === 0) return null;
    if (pick < 0) return this.admissions[-pick - 1] ?? null;
    if (pick % 8 === 7) return this.admissions[(pick >>> 3) % this.admissions.length];
    const own = this.admissions.filter((a) => a.holder === holder);
    if (own.length === 0) return null;
    return own[own.length - 1 - (pick % 3 === 0 ? (pick >>> 3) % own.length : 0)];
  }

  private describe(a: Admission, now: number): string {
    const left = (a.expiresAt - now) / 1000;
    const parts = [
      `admission #${a.n} (${a.kind}`,
      a.userId !== a.holder ? `, of ${a.userId}` : "",
      `, generation ${a.generation}`,
      left > 0 ? `, ${left} s of session left` : `, session over ${-left} s ago`,
      this.held.has(a.jti) ? ", held with before" : "",
      ")",
    ];
    return parts.join("");
  }
}
