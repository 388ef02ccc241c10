/**
 * The inventory object's side of on-sale mode (docs/onsale.md): while the event is on sale, a hold
 * needs a valid admission token for that user and event. Also counts what the coordinator reads
 * back: admissions that have held (still in session) and seats per such buyer. Runtime-independent:
 * handed the object's synchronous key-value storage (or a Map-like twin in unit tests).
 */
import { admissionKey, verifyAdmission, type AdmissionClaims, type AdmissionSecrets } from "../onsale/contract";

export interface GateStorage {
  get<T>(key: string): T | undefined;
  put<T>(key: string, value: T): void;
  delete(key: string): boolean;
  list<T>(options: { prefix: string }): Iterable<[string, T]>;
}

export type GateResult = { ok: true; claims: AdmissionClaims } | { ok: false; code: "NOT_ADMITTED"; message: string; details: { queue: string } };

const ENABLED = "onsale:enabled";
const USED = "onsale:used:";
const VERIFIED_CACHE_MAX = 10_000;

export const queuePath = (eventId: string) => `/v1/events/${eventId}/queue`;

export class AdmissionGate {
  private enabled: boolean;
  /** jti -> [session end (epoch ms), seats held with it]. */
  private readonly used = new Map<string, [number, number]>();
  private readonly verified = new Map<string, AdmissionClaims>();

  constructor(
    private readonly storage: GateStorage,
    private readonly secrets: AdmissionSecrets,
  ) {
    this.enabled = storage.get<boolean>(ENABLED) === true;
    for (const [k, v] of storage.list<[number, number]>({ prefix: USED })) this.used.set(k.slice(USED.length), v);
  }

  get onSale(): boolean {
    return this.enabled;
  }

  setOnSale(on: boolean): void {
    this.enabled = on;
    this.storage.put(ENABLED, on);
    if (!on) this.verified.clear();
  }

  async check(userId: string, eventId: string, token: string | null | undefined, now: number): Promise<GateResult> {
    const refuse = (message: string): GateResult => ({ ok: false, code: "NOT_ADMITTED", message, details: { queue: queuePath(eventId) } });
    if (!token) return refuse("This event is on sale through its waiting room: join the queue and hold with your admission token");
    const cached = this.verified.get(token);
    if (cached && cached.userId === userId && cached.eventId === eventId) {
      return now < cached.expiresAt ? { ok: true, claims: cached } : refuse("The admission has expired; your shopping session is over");
    }
    const res = await verifyAdmission(await admissionKey(this.secrets), token, userId, eventId, now);
    if (!res.ok) return refuse(res.reason);
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.clear();
    this.verified.set(token, res.claims);
    return res;
  }

  /** A hold made with this admission (after it succeeded). */
  recordHold(claims: AdmissionClaims, seats: number): void {
    const [, before] = this.used.get(claims.jti) ?? [claims.expiresAt, 0];
    const entry: [number, number] = [claims.expiresAt, before + seats];
    this.used.set(claims.jti, entry);
    this.storage.put(USED + claims.jti, entry);
  }

  /** Admissions in session that have held, and seats per admitted buyer so far (null before any). */
  stats(now: number): { admissionsUsed: number; seatsPerBuyer: number | null } {
    let active = 0;
    let buyers = 0;
    let seats = 0;
    for (const [, [exp, n]] of this.used) {
      buyers++;
      seats += n;
      if (exp > now) active++;
    }
    return { admissionsUsed: active, seatsPerBuyer: buyers ? seats / buyers : null };
  }
}
