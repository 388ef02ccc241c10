/**
 * The inventory object's side of on-sale mode (docs/onsale.md): while the event is on sale, a hold
 * needs a valid admission token for that user, this event and the current on-sale (generation).
 * Also counts what the coordinator reads back: admissions that have held (still in session) and
 * seats per such buyer. Runtime-independent: handed the object's synchronous key-value storage (or
 * a Map-like twin in unit tests).
 *
 * Bounded: one entry per admission that held, keyed by its session end, dropped once the session is
 * over (a few at a time, on the holds and the coordinator's reads); the counts the coordinator reads
 * are kept as two small values, so nothing is listed at start.
 */
import { admissionKey, verifyAdmission, type AdmissionClaims, type AdmissionSecrets } from "../onsale/contract";

export interface GateStorage {
  get<T>(key: string): T | undefined;
  put<T>(key: string, value: T): void;
  delete(key: string): boolean;
  list<T>(options: { prefix?: string; start?: string; end?: string; limit?: number }): Iterable<[string, T]>;
}

export type GateResult =
  | { ok: true; claims: AdmissionClaims }
  | { ok: false; code: "NOT_ADMITTED" | "ADMISSION_SUPERSEDED"; message: string; details: { queue: string } };

const ENABLED = "onsale:enabled";
const GENERATION = "onsale:generation";
/** `onsale:admission:<session end, 15 digits>:<jti>` -> seats held with that admission. */
const ADMISSION = "onsale:admission:";
/** Session end (epoch ms) -> admissions of that end that held: what `admissionsUsed` counts. */
const SESSIONS = "onsale:sessions";
/** [buyers, seats] of this generation, for seats per buyer. */
const TOTALS = "onsale:totals";
/** The unbounded entries of before (`onsale:used:<jti>`), dropped once. */
const LEGACY_USED = "onsale:used:";
const LEGACY_DROPPED = "onsale:legacyDropped";
const VERIFIED_CACHE_MAX = 10_000;
/** Expired admission entries dropped per pass (a pass runs on a hold or a coordinator read). */
const PURGE_BATCH = 200;

export const queuePath = (eventId: string) => `/v1/events/${eventId}/queue`;
const admissionKeyOf = (expiresAt: number, jti: string) => `${ADMISSION}${String(expiresAt).padStart(15, "0")}:${jti}`;

export class AdmissionGate {
  private enabled: boolean;
  private generation: number;
  /** [session end, count], ascending. */
  private sessions: [number, number][];
  private totals: [number, number];
  private readonly verified = new Map<string, AdmissionClaims>();

  constructor(
    private readonly storage: GateStorage,
    private readonly secrets: AdmissionSecrets,
  ) {
    this.enabled = storage.get<boolean>(ENABLED) === true;
    this.generation = storage.get<number>(GENERATION) ?? 0;
    this.sessions = storage.get<[number, number][]>(SESSIONS) ?? [];
    this.totals = storage.get<[number, number]>(TOTALS) ?? [0, 0];
    if (!storage.get<boolean>(LEGACY_DROPPED)) {
      this.dropAll(LEGACY_USED);
      storage.put(LEGACY_DROPPED, true);
    }
  }

  get onSale(): boolean {
    return this.enabled;
  }

  /**
   * On or off. A new generation (the coordinator's next on-sale) starts the counts afresh and from
   * then on refuses tokens of the earlier one; without one the current generation stays.
   */
  setOnSale(on: boolean, generation?: number): void {
    this.enabled = on;
    this.storage.put(ENABLED, on);
    if (generation !== undefined && generation !== this.generation) {
      this.generation = generation;
      this.storage.put(GENERATION, generation);
      this.dropAll(ADMISSION);
      this.sessions = [];
      this.totals = [0, 0];
      this.storage.put(SESSIONS, this.sessions);
      this.storage.put(TOTALS, this.totals);
      this.verified.clear();
    }
    if (!on) this.verified.clear();
  }

  get currentGeneration(): number {
    return this.generation;
  }

  async check(userId: string, eventId: string, token: string | null | undefined, now: number): Promise<GateResult> {
    const refuse = (message: string): GateResult => ({ ok: false, code: "NOT_ADMITTED", message, details: { queue: queuePath(eventId) } });
    if (!token) return refuse("This event is on sale through its waiting room: join the queue and hold with your admission token");
    let claims = this.verified.get(token);
    if (!claims || claims.userId !== userId || claims.eventId !== eventId) {
      const res = await verifyAdmission(await admissionKey(this.secrets), token, userId, eventId, now);
      if (!res.ok) return refuse(res.reason);
      claims = res.claims;
      if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.clear();
      this.verified.set(token, claims);
    }
    if (now >= claims.expiresAt) return refuse("The admission has expired; your shopping session is over");
    if (claims.generation !== this.generation) {
      return {
        ok: false,
        code: "ADMISSION_SUPERSEDED",
        message: "This admission belongs to an earlier on-sale of this event: join the queue again",
        details: { queue: queuePath(eventId) },
      };
    }
    return { ok: true, claims };
  }

  /** A hold made with this admission (after it succeeded). */
  recordHold(claims: AdmissionClaims, seats: number, now: number): void {
    const key = admissionKeyOf(claims.expiresAt, claims.jti);
    const before = this.storage.get<number>(key);
    this.storage.put(key, (before ?? 0) + seats);
    if (before === undefined) {
      this.totals = [this.totals[0] + 1, this.totals[1] + seats];
      const at = this.sessions.findIndex(([exp]) => exp >= claims.expiresAt);
      if (at >= 0 && this.sessions[at][0] === claims.expiresAt) this.sessions[at][1]++;
      else this.sessions.splice(at < 0 ? this.sessions.length : at, 0, [claims.expiresAt, 1]);
      this.storage.put(SESSIONS, this.sessions);
    } else {
      this.totals = [this.totals[0], this.totals[1] + seats];
    }
    this.storage.put(TOTALS, this.totals);
    this.prune(now);
  }

  /** Admissions in session that have held, and seats per admitted buyer so far (null before any). */
  stats(now: number): { admissionsUsed: number; seatsPerBuyer: number | null } {
    this.prune(now);
    const active = this.sessions.reduce((n, [, c]) => n + c, 0);
    const [buyers, seats] = this.totals;
    return { admissionsUsed: active, seatsPerBuyer: buyers ? seats / buyers : null };
  }

  /** Admission entries kept (for tests of the bound). */
  entries(): number {
    return [...this.storage.list({ prefix: ADMISSION })].length;
  }

  /** Drops what belongs to sessions over by `now`: the session counts, and a batch of entries. */
  private prune(now: number): void {
    const live = this.sessions.filter(([exp]) => exp > now);
    if (live.length !== this.sessions.length) {
      this.sessions = live;
      this.storage.put(SESSIONS, live);
    }
    const end = admissionKeyOf(now + 1, "");
    for (const [k] of this.storage.list({ start: ADMISSION, end, limit: PURGE_BATCH })) this.storage.delete(k);
  }

  private dropAll(prefix: string): void {
    for (;;) {
      const batch = [...this.storage.list({ prefix, limit: 1_000 })];
      for (const [k] of batch) this.storage.delete(k);
      if (batch.length < 1_000) return;
    }
  }
}
