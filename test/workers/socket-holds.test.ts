import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, makeSession, makeUser, type TestUser } from "../helpers/fixtures";
import { inventoryStub, publishedEvent } from "../helpers/inventory";
import { claimsFor, hmacSigner, jws, nowSeconds } from "../helpers/jwt";

/** One live seat-map socket, opened as the page opens it, with every frame it received. */
interface Socket {
  ws: WebSocket;
  frames: any[];
  /** Sends a frame and waits for the first frame after it that matches. */
  ask(frame: unknown, match: (f: any) => boolean): Promise<any>;
  auth(token: string): Promise<any>;
  hold(ref: string, body: { seatIds?: string[]; quantity?: number }): Promise<any>;
  release(ref: string, holdId: string): Promise<any>;
}

async function open(eventId: string): Promise<Socket> {
  const res = await call(`/v1/events/${eventId}/live`, { headers: { upgrade: "websocket" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: any[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string));
  });
  const ask = async (frame: unknown, match: (f: any) => boolean) => {
    const from = frames.length;
    ws.send(JSON.stringify(frame));
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = frames.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no answer to ${JSON.stringify(frame)}; got ${JSON.stringify(frames.slice(from))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const reply = (ref: string) => (f: any) => f.type === "reply" && f.ref === ref;
  return {
    ws,
    frames,
    ask,
    auth: (token) => ask({ type: "auth", token }, (f) => f.type === "auth"),
    hold: (ref, body) => ask({ type: "hold", ref, ...body }, reply(ref)),
    release: (ref, holdId) => ask({ type: "release", ref, holdId }, reply(ref)),
  };
}

async function signedIn(eventId: string, user: TestUser): Promise<Socket> {
  const s = await open(eventId);
  expect(await s.auth(user.token)).toMatchObject({ type: "auth", ok: true, userId: user.id });
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The longest a socket may keep acting for a session that has ended (API.md: within 1 s). */
const AUTHORITY_LAG_MS = 1_050;

async function seatStatus(eventId: string, id: string): Promise<string> {
  const map: any = await (await call(`/v1/events/${eventId}/seats`)).json();
  return map.seats.find((s: any) => s.id === id).status;
}

describe("holds over the live socket", () => {
  it("refuses a hold from a socket that has not authenticated, and holds nothing", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 4] });
    const s = await open(ev.id);
    const r = await s.hold("c-1", { seatIds: ["A-1-1"] });
    expect(r).toMatchObject({ ok: false, error: { code: "UNAUTHENTICATED" } });
    expect(await seatStatus(ev.id, "A-1-1")).toBe("available");
    expect(await s.auth("not-a-token")).toMatchObject({ type: "auth", ok: false, code: "UNAUTHENTICATED" });
    expect((await s.hold("c-2", { seatIds: ["A-1-1"] })).error.code).toBe("UNAUTHENTICATED");
    s.ws.close(1000);
  });

  it("holds seats for the signed-in user with the body POST /holds answers, and every socket sees the delta", async () => {
    const ev = await publishedEvent({ layout: [1, 2, 5] });
    const alice = await makeUser();
    const watcher = await open(ev.id);
    const s = await signedIn(ev.id, alice);
    const r = await s.hold("c-1", { seatIds: ["A-1-1", "A-1-2"] });
    expect(r).toMatchObject({ type: "reply", ref: "c-1", ok: true });
    const viaHttp: any = await (await call(`/v1/holds/${r.hold.id}`, { headers: alice.auth })).json();
    expect(r.hold).toEqual(viaHttp);
    expect(r.hold).toMatchObject({ eventId: ev.id, userId: alice.id, quantity: 2, totalCents: 10_000, status: "active" });
    for (const sock of [watcher, s]) {
      await expect.poll(() => sock.frames.some((f) => f.type === "delta" && f.changes.some((c: any) => c.id === "A-1-2" && c.status === "held"))).toBe(true);
    }
    watcher.ws.close(1000);
    s.ws.close(1000);
  });

  it("answers a repeated ref with its first result, a refusal included, and never holds twice", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 6] });
    const [alice, bob] = [await makeUser(), await makeUser()];
    const a = await signedIn(ev.id, alice);
    const b = await signedIn(ev.id, bob);
    const first = await a.hold("r-1", { seatIds: ["A-1-1"] });
    const again = await a.hold("r-1", { seatIds: ["A-1-1"] });
    expect(again).toEqual(first);
    expect((await ev.stub.stats()).held).toBe(1);

    const refused = await b.hold("r-1", { seatIds: ["A-1-1"] });
    expect(refused).toMatchObject({ ok: false, error: { code: "SEAT_UNAVAILABLE", details: { seatIds: ["A-1-1"] } } });
    expect(await a.release("r-2", first.hold.id)).toEqual({ type: "reply", ref: "r-2", ok: true });
    // The seat is free now, but bob's r-1 already has an answer.
    expect(await b.hold("r-1", { seatIds: ["A-1-1"] })).toEqual(refused);
    expect(await b.hold("r-3", { seatIds: ["A-1-1"] })).toMatchObject({ ok: true, hold: { userId: bob.id } });

    // The same ref sent twice at once is decided once.
    const twice = JSON.stringify({ type: "hold", ref: "r-4", seatIds: ["A-1-5"] });
    const from = a.frames.length;
    a.ws.send(twice);
    a.ws.send(twice);
    await expect.poll(() => a.frames.slice(from).filter((f) => f.ref === "r-4").length).toBe(2);
    const [one, two] = a.frames.slice(from).filter((f) => f.ref === "r-4");
    expect(one.ok).toBe(true);
    expect(two).toEqual(one);
    expect((await ev.stub.stats()).held).toBe(2);
    a.ws.close(1000);
    b.ws.close(1000);
  });

  it("answers a repeated ref with its first result after the object restarted (replies are stored, not only remembered)", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 4] });
    const [alice, bob] = [await makeUser(), await makeUser()];
    const a = await signedIn(ev.id, alice);
    const b = await signedIn(ev.id, bob);
    const held = await a.hold("s-1", { seatIds: ["A-1-1"] });
    const refused = await b.hold("s-1", { seatIds: ["A-1-1"] });
    expect(refused).toMatchObject({ ok: false, error: { code: "SEAT_UNAVAILABLE" } });
    expect(await a.release("s-2", held.hold.id)).toMatchObject({ ok: true });
    a.ws.close(1000);
    b.ws.close(1000);
    await abortAllDurableObjects();

    // A new instance: its memory is empty, the replies come from SQLite.
    const b2 = await signedIn(ev.id, bob);
    expect(await b2.hold("s-1", { seatIds: ["A-1-1"] })).toEqual(refused);
    const a2 = await signedIn(ev.id, alice);
    expect(await a2.hold("s-1", { seatIds: ["A-1-1"] })).toEqual(held);
    expect((await inventoryStub(ev.id).stats()).held).toBe(0);
    // A ref never answered is decided now.
    expect(await b2.hold("s-3", { seatIds: ["A-1-1"] })).toMatchObject({ ok: true, hold: { userId: bob.id } });
    a2.ws.close(1000);
    b2.ws.close(1000);
  });

  it("keeps a user's newest 256 replies and forgets older ones, in memory and in SQLite alike", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 2] });
    const [alice, bob] = [await makeUser(), await makeUser()];
    const a = await signedIn(ev.id, alice);
    const b = await signedIn(ev.id, bob);
    const alices = await a.hold("x", { seatIds: ["A-1-1"] });
    const bobs = await b.hold("y", { seatIds: ["A-1-2"] });
    // Releases are not rate limited: 330 answers "no such hold" to bob for alice's hold.
    for (let i = 0; i < 330; i++) expect(await b.release(`n-${i}`, alices.hold.id)).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    // A remembered ref answers as first, whatever the frame now says; a forgotten one is decided anew.
    expect(await b.release("n-329", bobs.hold.id)).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await seatStatus(ev.id, "A-1-2")).toBe("held");
    expect(await b.release("n-0", bobs.hold.id)).toMatchObject({ ok: true });
    expect(await seatStatus(ev.id, "A-1-2")).toBe("available");
    const rows = await runInDurableObject(inventoryStub(ev.id), (_o, state) => state.storage.sql.exec(`SELECT count(*) AS n FROM live_refs WHERE user_id = ?`, bob.id).one().n as number);
    expect(rows).toBeGreaterThanOrEqual(256);
    expect(rows).toBeLessThanOrEqual(321);
    a.ws.close(1000);
    b.ws.close(1000);
  });

  it("applies the HTTP rules and codes: per-user cap, seat ids, another user's hold", async () => {
    const ev = await publishedEvent({ layout: [1, 2, 10], maxSeatsPerUser: 2 });
    const [alice, bob, carol] = [await makeUser(), await makeUser(), await makeUser()];
    const a = await signedIn(ev.id, alice);
    const b = await signedIn(ev.id, bob);
    const refusals = [{ seatIds: ["A-1-1", "A-1-2", "A-1-3"] }, { seatIds: ["Z-9-99"] }, { seatIds: ["A-1-1", "A-1-1"] }, { seatIds: ["A-1-1"], quantity: 1 }, { quantity: 1 }, {}];
    const codes = { http: [] as string[], socket: [] as string[] };
    for (const [i, body] of refusals.entries()) {
      const res = await call(`/v1/events/${ev.id}/holds`, { method: "POST", json: body, headers: carol.auth });
      codes.http.push(((await res.json()) as any).error.code);
      codes.socket.push((await a.hold(`v-${i}`, body)).error.code);
    }
    expect(codes.socket).toEqual(codes.http);
    expect(codes.socket[0]).toBe("LIMIT_EXCEEDED");
    const held = await a.hold("c-5", { seatIds: ["A-1-1", "A-1-2"] });
    expect(held.ok).toBe(true);
    expect((await a.hold("c-6", { seatIds: ["A-2-1"] })).error.code).toBe("LIMIT_EXCEEDED");
    expect((await b.release("c-1", held.hold.id)).error.code).toBe("NOT_FOUND");
    expect(await seatStatus(ev.id, "A-1-1")).toBe("held");
    expect((await a.release("c-7", held.hold.id)).ok).toBe(true);
    expect(await seatStatus(ev.id, "A-1-1")).toBe("available");
    const bad = await a.ask({ type: "hold", seatIds: ["A-1-1"] }, (f) => f.type === "error");
    expect(bad).toMatchObject({ type: "error", code: "BAD_MESSAGE" });
    a.ws.close(1000);
    b.ws.close(1000);
  });

  it("ends a socket's authority within a second of logout", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 4] });
    const alice = await makeSession();
    const s = await signedIn(ev.id, alice);
    expect((await s.hold("c-1", { seatIds: ["A-1-1"] })).ok).toBe(true);
    expect((await call("/v1/auth/logout", { method: "POST", headers: alice.auth })).status).toBe(204);
    await sleep(AUTHORITY_LAG_MS);
    expect(await s.hold("c-2", { seatIds: ["A-1-2"] })).toMatchObject({ ok: false, error: { code: "UNAUTHENTICATED" } });
    expect(await seatStatus(ev.id, "A-1-2")).toBe("available");
    expect(await s.auth(alice.token)).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    s.ws.close(1000);
  });

  it("ends a socket's authority within a second of an admin disabling the account", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 4] });
    const [alice, admin] = [await makeUser(), await makeUser("admin")];
    const s = await signedIn(ev.id, alice);
    expect((await s.hold("c-1", { seatIds: ["A-1-1"] })).ok).toBe(true);
    expect((await call(`/v1/admin/users/${alice.id}`, { method: "PATCH", json: { disabled: true }, headers: admin.auth })).status).toBe(200);
    await sleep(AUTHORITY_LAG_MS);
    expect((await s.hold("c-2", { seatIds: ["A-1-2"] })).error.code).toBe("UNAUTHENTICATED");
    expect(await seatStatus(ev.id, "A-1-2")).toBe("available");
    s.ws.close(1000);
  });

  it("ends a socket's authority within a second of a role change", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 4] });
    const [alice, admin] = [await makeUser(), await makeUser("admin")];
    const s = await signedIn(ev.id, alice);
    const held = await s.hold("c-1", { seatIds: ["A-1-1"] });
    expect(held.ok).toBe(true);
    expect((await call(`/v1/admin/users/${alice.id}`, { method: "PATCH", json: { role: "organizer" }, headers: admin.auth })).status).toBe(200);
    await sleep(AUTHORITY_LAG_MS);
    expect((await s.release("c-2", held.hold.id)).error.code).toBe("UNAUTHENTICATED");
    expect(await seatStatus(ev.id, "A-1-1")).toBe("held");
    s.ws.close(1000);
  });

  it("ends a socket's authority when its token expires, unless the client renews it with another auth frame", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 4] });
    const [alice, bob] = [await makeUser(), await makeUser()];
    const shortLived = async (u: TestUser) => jws({ alg: "HS256", typ: "at+jwt" }, { ...claimsFor(u.id), exp: nowSeconds() + 3 }, hmacSigner());
    const a = await open(ev.id);
    const b = await open(ev.id);
    const authA = await a.auth(await shortLived(alice));
    expect(authA).toMatchObject({ ok: true, userId: alice.id });
    expect(Date.parse(authA.expiresAt) - Date.now()).toBeLessThanOrEqual(3_000);
    expect((await b.auth(await shortLived(bob))).ok).toBe(true);
    expect((await a.hold("c-1", { seatIds: ["A-1-1"] })).ok).toBe(true);
    expect((await b.hold("c-1", { seatIds: ["A-1-2"] })).ok).toBe(true);
    const renewed = await b.auth(bob.token);
    expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.now() + 60_000);

    await sleep(Date.parse(authA.expiresAt) - Date.now() + 100);
    expect(await a.hold("c-2", { seatIds: ["A-1-3"] })).toMatchObject({ ok: false, error: { code: "UNAUTHENTICATED" } });
    expect(await b.hold("c-2", { seatIds: ["A-1-4"] })).toMatchObject({ ok: true, hold: { userId: bob.id } });
    expect(await seatStatus(ev.id, "A-1-3")).toBe("available");
    a.ws.close(1000);
    b.ws.close(1000);
  });
});
