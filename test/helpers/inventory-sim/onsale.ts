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
 */
import { admissionKey, signAdmission, type AdmissionSecrets } from "../../../durable-objects/onsale/contract";
import { rng } from "../random";
import { Mismatch, type Answer, type ReferenceModel } from "./model";
import { SIM_ADMISSION_SECRETS, type SimObject } from "./object";

/**
 * valid: for the holder, this event, the current on-sale, a whole session; brief: the same, over
 * in a few seconds; over: its session ended already; earlier: of the on-sale before; other-user,
 * other-event: signed for someone or something else; forged: signed with another key.
 */
export type AdmissionKind = "valid" | "brief" | "over" | "earlier" | "other-user" | "other-event" | "forged";

export type OnSaleStep =
  /** `fresh`: a new on-sale (the next generation); otherwise the current one's PUT repeated. */
  | { t: "onsale"; on: true; fresh: boolean }
  | { t: "onsale"; on: false }
  /** A queue shard admits user `u`; `s` seconds of session (brief, valid) or since it ended (over). */
  | { t: "admit"; u: number; kind: AdmissionKind; s: number };

export interface OnSalePlan {
  /** The room's `shopperSessionSeconds`. */
  sessionSeconds: number;
}

/**
 * A hold step's admission (`a`): null presents none; n presents, when n % 8 = 7, any admission
 * signed so far, else one of the holder's own (the newest, or when n % 3 = 0 an older one).
 */
export type AdmissionPick = number | null;

const OTHER_EVENT = "6f1c0000-0000-4000-8000-0000000000aa";
const FORGED_SECRETS: AdmissionSecrets = { ADMISSION_SECRET: "not-the-simulation-key-but-long-enough-0123456789" };

/**
 * Interleaves on-sale steps into a scenario's steps for about 2 seeds in 5 (and gives each hold an
 * admission to present), drawing from the seed's own on-sale stream, so the other seeds, and the
 * steps of these, stay as they were.
 */
export function interleaveOnSale<S extends { t: string }>(seed: number, users: number, steps: S[]): { onsale: OnSalePlan | null; steps: (S | OnSaleStep)[] } {
  const o = rng(seed * 15_485_863 + 101);
  const int = (lo: number, hi: number) => lo + Math.floor(o() * (hi - lo + 1));
  if (o() >= 0.4) return { onsale: null, steps };
  const plan: OnSalePlan = { sessionSeconds: int(60, 600) };
  const out: (S | OnSaleStep)[] = [];
  if (o() < 0.7) out.push({ t: "onsale", on: true, fresh: true });
  for (const step of steps) {
    const x = o();
    if (x < 0.01) out.push({ t: "onsale", on: true, fresh: true });
    else if (x < 0.015) out.push({ t: "onsale", on: true, fresh: false });
    else if (x < 0.025) out.push({ t: "onsale", on: false });
    else if (x < 0.16) {
      const y = o();
      const kind: AdmissionKind = y < 0.5 ? "valid" : y < 0.6 ? "brief" : y < 0.7 ? "over" : y < 0.8 ? "earlier" : y < 0.9 ? "other-user" : y < 0.95 ? "other-event" : "forged";
      out.push({ t: "admit", u: int(0, users - 1), kind, s: kind === "brief" ? int(1, 5) : kind === "over" ? int(0, 60) : plan.sessionSeconds });
    }
    out.push(step.t === "hold" ? { ...step, a: o() < 0.85 ? int(0, 1 << 30) : null } : step);
  }
  return { onsale: plan, steps: out };
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
  /** Holds the gate let through: hold id -> the admission and when. */
  private readonly granted = new Map<string, { admission: Admission | null; holder: string; at: number; generation: number }>();
  /** Hold rows already looked at (store.holdIds is in creation order). */
  private seen = 0;
  private keys: Promise<[CryptoKey, CryptoKey]> | null = null;

  constructor(
    private readonly obj: SimObject,
    private readonly model: ReferenceModel,
    private readonly users: string[],
    private readonly eventId: string,
  ) {}

  async step(s: OnSaleStep, now: number, note: (what: string) => void): Promise<void> {
    if (s.t === "onsale") {
      if (s.on) {
        const generation = s.fresh ? this.started + 1 : this.generation;
        note(s.fresh ? `the room goes on: a new on-sale, generation ${generation}` : `the room's PUT is repeated (generation ${generation})`);
        // EventInventory.setOnSale, as the WaitingRoom's configure() calls it.
        this.obj.gate.setOnSale(true, generation);
        this.started = Math.max(this.started, generation);
        if (generation !== this.generation) this.held.clear();
        this.generation = generation;
        this.on = true;
        this.model.waitlistClosed = true;
      } else {
        note("the room ends (DELETE): holds are open to all again");
        this.obj.gate.setOnSale(false);
        this.on = false;
        this.model.waitlistClosed = false;
        if (this.model.entries.some((e) => e.status === "waiting")) this.model.waitlistStale = true;
      }
      return;
    }
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
    const got = await call(a?.token ?? null);
    answered(got);
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
    if (!this.on || !got.ok || !a) return;
    this.held.set(a.jti, a.expiresAt);
    for (const id of this.obj.store.holdIds.slice(before)) this.granted.set(id, { admission: a, holder, at: now, generation: this.generation });
  }

  /** After every step: the gate as the room left it, no hold past it while on, its counts exact. */
  check(now: number): void {
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
