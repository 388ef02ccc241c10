// npm run bench:onsale — an on-sale through the waiting room (docs/onsale.md), in one run:
//  1. the crowd without the room: every buyer sends one hold at once to a plain event (HTTP);
//  2. the same crowd through the room: each buyer opens the queue socket, joins around the opening
//     (some before it, the rest after), and when admitted holds 1-4 seats over HTTP with its token,
//     then books most holds (beginConfirm + commit, as the saga does) and releases the rest;
//  3. headless: synthetic visitors joined straight through RPC into a sharded and a one-shard room.
// Prints a table, writes docs/onsale-bench.svg and records docs/benchmarks.md (not at smoke size).
import { existsSync, writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import WebSocket from "ws";
import { recordBenchmark, markdownTable } from "./lib/benchmarks-doc";
import { CpuMeter } from "./lib/cpu";
import { earlyShuffle, kendallTau, lateOrder, soldOutLag, type RoomRecord } from "./lib/fairness";
import { Recorder, epochNow, fmt, httpClient, sleep, staleSocketRetries, type ClientTiming } from "./lib/load";
import { publishEvent, startStack } from "./lib/stack";

const BUYERS = Number(process.env.ONSALE_BUYERS ?? 2_000);
// Fewer seats than the crowd wants (2.25 seats a buyer: 1-4 each, 90% booked), so the room sells out
// with buyers still waiting and the sold-out lag is measured: 5,000 seats from 20,000 buyers down.
const SEATS = Number(process.env.ONSALE_SEATS ?? Math.min(5_000, BUYERS));
const SHARDS = Number(process.env.ONSALE_SHARDS ?? 8);
const HEADLESS = Number(process.env.ONSALE_HEADLESS ?? 100_000);
// Headless visitors who join before the opening: fewer than the seats can serve (a fifth of the seats
// at 1-4 each), so late arrivals are admitted too and their order is measured.
const HEADLESS_EARLY = Number(process.env.ONSALE_HEADLESS_EARLY ?? Math.min(Math.floor(HEADLESS * 0.3), Math.floor(SEATS / 5)));
const OPEN_DELAY_MS = Number(process.env.ONSALE_OPEN_DELAY_MS ?? 5_000);
const LATE_SPREAD_MS = Number(process.env.ONSALE_LATE_SPREAD_MS ?? 10_000);
const EARLY_SHARE = 0.3;
const BOOK_SHARE = 0.9;
const TICK_MS = Number(process.env.ONSALE_TICK_MS ?? 250);
const MAX_ACTIVE = Number(process.env.ONSALE_MAX_ACTIVE ?? 1_000);
const TIMEOUT_MS = Number(process.env.ONSALE_TIMEOUT_MS ?? 180_000);
const RECORD = process.env.ONSALE_RECORD !== "0";
const CONCURRENCY = Math.min(BUYERS, 500);
/** The objects in a workerd process of their own, apart from the front Worker, as in production (bench/lib/stack.ts). */
const SPLIT = process.env.ONSALE_SPLIT !== "0";

interface Buyer {
  id: string;
  token: string;
  early: boolean;
  /** ms since the bench's t0. */
  joinedAt?: number;
  admittedAt?: number;
  soldOutAt?: number;
  holdMs?: number;
  /** Epoch ms when the admitted frame was read. */
  admittedEpoch?: number;
  /** The first hold attempt: the client's clock and the Worker's (x-bench-timing), and its status. */
  firstHold?: { status: number; client: ClientTiming; server: Record<string, number> };
  /** Holds answered 503 and sent again after Retry-After, and the time spent so. */
  shed: number;
  shedMs: number;
  held: number;
  booked: number;
  noChance: boolean;
  done: boolean;
  ws?: WebSocket;
}

const quantityOf = (i: number) => 1 + (i % 4);

/** The p-th percentile of `values` (nearest rank); NaN when empty. */
const pct = (values: number[], p: number) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
};
const p50p99 = (values: number[]) => `${fmt(pct(values, 50))} / ${fmt(pct(values, 99))}`;

const benchT0 = performance.now();
/** A progress line on stderr: seconds since start and the phase (the table goes to stdout). */
let retriesSaid = 0;
const progress = (msg: string) => {
  const retries = staleSocketRetries.count;
  const said = retries === retriesSaid ? (retries ? ` (requests resent: ${retries})` : "") : ` (requests resent after workerd closed their keep-alive socket: ${retries}, the last: ${staleSocketRetries.last})`;
  retriesSaid = retries;
  console.error(`[onsale +${((performance.now() - benchT0) / 1000).toFixed(1)}s] ${msg}${said}`);
};

async function main() {
  progress(`starting the stack: ${BUYERS} buyers, ${SEATS} seats, ${SHARDS} shards, ${HEADLESS} headless`);
  const stack = await startStack({ users: BUYERS, split: SPLIT, holdMaxInflight: Number(process.env.HOLD_MAX_INFLIGHT ?? 256), bindings: { ONSALE_TICK_MS: String(TICK_MS) } });
  const http = httpClient(stack.workerUrl, CONCURRENCY);
  const wsBase = stack.workerUrl.replace(/^http/, "ws");
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) => http.request("POST", path, headers, body);
  /** Every visitor as the room's shards keep them (join time, class, key, admission tick). */
  const records = async (eventId: string, shards: number): Promise<RoomRecord[]> => {
    const r = await http.request("GET", `/__bench/onsale/records?event=${eventId}&shards=${shards}`);
    if (r.status !== 200) throw new Error(`records of ${eventId}: ${r.status} ${r.body.slice(0, 200)}`);
    return JSON.parse(r.body);
  };
  progress(`stack up at ${stack.workerUrl}, workerd pid ${stack.workerdPids.front.join(", ")}`);
  try {
    // 1. Without the room: one hold per buyer, all at once (CONCURRENCY in flight).
    const plain = await publishEvent(stack, [], { seating: "general", capacity: SEATS, maxSeatsPerUser: 4 });
    progress(`phase 1: without the room, ${BUYERS} holds, ${CONCURRENCY} in flight`);
    const without = new Recorder();
    let next = 0;
    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < BUYERS; i = next++) {
          const u = stack.users[i];
          const t = performance.now();
          // Without the room, workerd drops some of the crowd's connections without an answer
          // (docs/onsale.md, Numbers): counted as status 0, "dropped", not the end of the run.
          const res = await post(`/v1/events/${plain.eventId}/holds`, { quantity: quantityOf(i) }, { authorization: `Bearer ${u.token}` }).catch((e: Error) => {
            if (without.count(0) < 3) progress(`phase 1: ${e.message}`);
            return { status: 0 };
          });
          without.record(res.status, performance.now() - t);
        }
      }),
    );
    const withoutSeconds = (performance.now() - t1) / 1000;
    progress(`phase 1 done in ${withoutSeconds.toFixed(1)} s: 201 ${without.count(201)}, 409 ${without.count(409)}, 503 ${without.count(503)}, dropped ${without.count(0)}`);

    // 2. Through the room.
    progress(`phase 2: through the room over sockets, ${BUYERS} buyers`);
    const ev = await publishEvent(stack, [], { seating: "general", capacity: SEATS, maxSeatsPerUser: 4 });
    const t0 = performance.now();
    const now = () => performance.now() - t0;
    const opensAtWall = Date.now() + OPEN_DELAY_MS;
    const cfg = await post("/__bench/onsale/configure", { eventId: ev.eventId, opensAt: new Date(opensAtWall).toISOString(), shards: SHARDS, maxActiveShoppers: MAX_ACTIVE });
    if (cfg.status !== 200) throw new Error(`configure: ${cfg.status} ${cfg.body}`);
    const buyers: Buyer[] = stack.users.map((u, i) => ({ ...u, early: i < BUYERS * EARLY_SHARE, held: 0, booked: 0, noChance: false, done: false, shed: 0, shedMs: 0 }));
    // The bench's own event-loop lag while it drives the room: a frame or an answer read late by a
    // busy load generator adds to every latency it measures.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const cpu = new CpuMeter(stack.dbName, -1);
    cpu.begin();
    const phase2Start = performance.now();
    const withRoom = new Recorder();
    let lastSaleAt = 0;
    let bookedSeats = 0;
    const timeline: { t: number; waiting: number; admitted: number; held: number; booked: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const r = await http.request("GET", `/__bench/onsale/figures?event=${ev.eventId}`);
        if (r.status === 200) {
          const f = JSON.parse(r.body);
          timeline.push({ t: now(), waiting: f.waiting, admitted: f.admitted, held: f.held, booked: f.booked });
        }
        await sleep(250);
      }
    })();
    const phase2Progress = setInterval(() => {
      const count = (f: (b: Buyer) => boolean) => buyers.filter(f).length;
      progress(
        `phase 2: arrived ${count((b) => b.ws !== undefined)}, joined ${count((b) => b.joinedAt !== undefined)}, admitted ${count((b) => b.admittedAt !== undefined)}, sold_out ${count((b) => b.soldOutAt !== undefined)}, done ${count((b) => b.done)}; booked seats ${bookedSeats}; joins refused ${joinsRefused}, socket errors ${socketErrors}, request errors ${requestErrors}, holds retried after 503 ${shedRetries}, releases retried after 503 ${releasesShed}`,
      );
    }, 5_000);

    let shedRetries = 0;
    let releasesShed = 0;
    const shop = async (b: Buyer, token: string, i: number) => {
      for (const q of [quantityOf(i), 1]) {
        const t = performance.now();
        let res = await post(`/v1/events/${ev.eventId}/holds`, { quantity: q }, { authorization: `Bearer ${b.token}`, "x-admission-token": token });
        b.firstHold ??= { status: res.status, client: res.timing, server: JSON.parse(String(res.headers["x-bench-timing"] ?? "{}")) };
        // Shed (503 + Retry-After) while the machine is saturated: retry as a client would. A buyer
        // who gave up would keep the admission pending for its whole session and hold back the queue.
        for (let tries = 0; res.status === 503 && tries < 20; tries++) {
          shedRetries++;
          b.shed++;
          const slept = performance.now();
          await sleep(1_000 * Number(res.headers["retry-after"] ?? 1));
          b.shedMs += performance.now() - slept;
          res = await post(`/v1/events/${ev.eventId}/holds`, { quantity: q }, { authorization: `Bearer ${b.token}`, "x-admission-token": token });
        }
        const ms = performance.now() - t;
        b.holdMs ??= ms;
        withRoom.record(res.status, ms);
        if (res.status === 201) {
          const hold = JSON.parse(res.body);
          b.held = hold.quantity;
          if (Math.random() < BOOK_SHARE) {
            const booked = JSON.parse((await post("/__bench/onsale/book", { eventId: ev.eventId, holdId: hold.id })).body);
            if (booked.ok) {
              b.booked = hold.quantity;
              bookedSeats += hold.quantity;
              lastSaleAt = now();
            }
          } else {
            // A release shed (503) is sent again after Retry-After, as a client would: a hold left
            // behind keeps its seats from the buyers still waiting until it expires.
            for (let tries = 0; tries < 20; tries++) {
              const res = await http.request("DELETE", `/v1/holds/${hold.id}`, { authorization: `Bearer ${b.token}` });
              if (res.status !== 503) break;
              releasesShed++;
              await sleep(1_000 * Number(res.headers["retry-after"] ?? 1));
            }
          }
          return;
        }
        if (res.status !== 409) return;
      }
      b.noChance = true;
    };

    let socketErrors = 0;
    let joinsRefused = 0;
    let requestErrors = 0;
    const arrive = (b: Buyer, i: number) =>
      new Promise<void>((resolve) => {
        const ws = new WebSocket(`${wsBase}/v1/events/${ev.eventId}/queue/live?user=${b.id}`, { perMessageDeflate: false });
        b.ws = ws;
        const finish = () => {
          if (b.done) return;
          b.done = true;
          ws.close();
          resolve();
        };
        ws.on("open", () => ws.send(JSON.stringify({ type: "auth", token: b.token })));
        const onFrame = async (data: WebSocket.RawData) => {
          const f = JSON.parse(data.toString());
          if (f.type === "auth" && f.ok) {
            const res = await post(`/v1/events/${ev.eventId}/queue`, {}, { authorization: `Bearer ${b.token}` });
            if (res.status !== 201 && res.status !== 200) {
              if (joinsRefused++ < 3) progress(`phase 2: buyer ${i}: POST /queue answered ${res.status} ${res.body.slice(0, 200)}`);
              finish();
              return;
            }
            b.joinedAt = now();
          } else if (f.type === "admitted" && b.admittedAt === undefined) {
            b.admittedAt = now();
            b.admittedEpoch = epochNow();
            await shop(b, f.admission.token, i);
            finish();
          } else if (f.type === "sold_out") {
            b.soldOutAt ??= now();
            finish();
          }
        };
        // A failed request inside a frame's handler is that buyer's failure, said with its request
        // (not an unhandled rejection that ends the run with a bare "socket hang up").
        ws.on("message", (data) =>
          onFrame(data).catch((e) => {
            requestErrors++;
            if (requestErrors <= 5) progress(`phase 2: buyer ${i}: ${e instanceof Error ? e.message : String(e)}`);
            finish();
          }),
        );
        ws.on("error", (e) => {
          if (socketErrors++ < 5) progress(`phase 2: queue socket of buyer ${i}: ${e.message}`);
          finish();
        });
        ws.on("close", () => finish());
      });

    const arrivals: Promise<void>[] = [];
    const earlyCount = buyers.filter((b) => b.early).length;
    const schedule = buyers.map((b, i) => (b.early ? (i / Math.max(1, earlyCount)) * OPEN_DELAY_MS * 0.8 : OPEN_DELAY_MS + ((i - earlyCount) / Math.max(1, BUYERS - earlyCount)) * LATE_SPREAD_MS));
    const deadline = now() + TIMEOUT_MS;
    for (let i = 0; i < buyers.length; i++) {
      const wait = schedule[i] - now();
      if (wait > 0) await sleep(wait);
      arrivals.push(arrive(buyers[i], i));
    }
    await Promise.race([Promise.all(arrivals), sleep(Math.max(0, deadline - now()))]);
    sampling = false;
    loopDelay.disable();
    const cpuMs = cpu.end();
    const phase2Ms = performance.now() - phase2Start;
    clearInterval(phase2Progress);
    await sampler;
    for (const b of buyers) b.ws?.close();

    const final = JSON.parse((await http.request("GET", `/__bench/onsale/figures?event=${ev.eventId}`)).body);
    progress(`phase 2 done: admitted ${buyers.filter((b) => b.admittedAt !== undefined).length}, sold ${final.booked}, waiting ${final.waiting}`);

    // 3. Headless: joins straight through RPC, sharded vs one shard.
    const joinBatches = async (eventId: string, shards: number, from: number, n: number) => {
      const batch = 1_000;
      const t = performance.now();
      let joined = 0;
      let next = from;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < from + n) {
            const start = next;
            next += batch;
            const r = JSON.parse((await post("/__bench/onsale/join", { eventId, shards, from: start, count: Math.min(batch, from + n - start) })).body);
            joined += r.ok;
          }
        }),
      );
      return { joined, seconds: (performance.now() - t) / 1000 };
    };
    const configure = (eventId: string, shards: number, opensAt: number) =>
      post("/__bench/onsale/configure", { eventId, opensAt: new Date(opensAt).toISOString(), shards, maxActiveShoppers: MAX_ACTIVE });
    // The sharded room, driven to the end: 30% join before the opening, the rest after it; then the
    // drain plays every admitted buyer through RPC until sold out.
    progress(`phase 3: headless, ${HEADLESS} visitors into ${SHARDS} shards`);
    const hev = await publishEvent(stack, [], { seating: "general", capacity: SEATS, maxSeatsPerUser: 4 });
    await configure(hev.eventId, SHARDS, Date.now() + 3_600_000);
    const earlyN = HEADLESS_EARLY;
    const hEarly = await joinBatches(hev.eventId, SHARDS, 0, earlyN);
    await configure(hev.eventId, SHARDS, Date.now());
    await post("/__bench/onsale/drain", { eventId: hev.eventId, shards: SHARDS, maxTicks: 1 });
    progress(`phase 3: ${hEarly.joined} early joined in ${hEarly.seconds.toFixed(1)} s`);
    // The drain plays admitted buyers while the late arrivals join, as real buyers hold as soon as
    // they are admitted. (Draining only after the joins left buyers admitted during them unplayed
    // for longer than the room keeps their seat, FIRST_HOLD_GRACE_MS: 42 found none in one run.)
    const draining = post("/__bench/onsale/drain", { eventId: hev.eventId, shards: SHARDS, maxTicks: 10_000 });
    const hLateJoins = await joinBatches(hev.eventId, SHARDS, earlyN, HEADLESS - earlyN);
    progress(`phase 3: ${hLateJoins.joined} late joined in ${hLateJoins.seconds.toFixed(1)} s, while draining`);
    const drain = JSON.parse((await draining).body) as {
      admitted: { joinedAt: number; early: boolean; tick: number }[];
      noSeat: number;
      noSeatCodes: Record<string, number>;
      noSeatAfterGrace: number;
      firstHoldLagMaxMs: number;
      final: { capacity: number; available: number; held: number; booked: number };
      timeline: { tick: number; waiting: number; admitted: number; held: number; booked: number }[];
    };
    const sharded = { joined: hEarly.joined + hLateJoins.joined, perSecond: (hEarly.joined + hLateJoins.joined) / (hEarly.seconds + hLateJoins.seconds) };
    progress(`phase 3: drained in ${drain.timeline.length} ticks, ${drain.admitted.length} admitted, ${drain.final.booked} sold; ${HEADLESS} visitors into 1 shard`);
    const sev = await publishEvent(stack, [], { seating: "general", capacity: SEATS });
    await configure(sev.eventId, 1, Date.now() + 3_600_000);
    const s1 = await joinBatches(sev.eventId, 1, 0, HEADLESS);
    const single = { joined: s1.joined, perSecond: s1.joined / s1.seconds };
    progress(`phase 3 done: ${s1.joined} joined the one-shard room in ${s1.seconds.toFixed(1)} s`);
    const hRecords = await records(hev.eventId, SHARDS);
    const hLate = lateOrder(hRecords);
    const hUniform = earlyShuffle(hRecords);
    const hOversold = drain.final.booked + drain.final.held > SEATS;

    // Figures: the room's order from its own records (the shards' join times, classes, keys and
    // admission ticks); what the sockets saw on the bench's clock next to it.
    const roomRecords = await records(ev.eventId, SHARDS);
    const roomLate = lateOrder(roomRecords);
    const uniform = earlyShuffle(roomRecords);
    const roomEarly = new Set(roomRecords.filter((r) => r.early).map((r) => r.userId));
    const joinedAfterOpening = buyers.filter((b) => b.early && b.joinedAt !== undefined && !roomEarly.has(b.id)).length;
    const late = buyers.filter((b) => !roomEarly.has(b.id) && b.admittedAt !== undefined && b.joinedAt !== undefined);
    const socketTau = kendallTau(
      late.map((b) => b.joinedAt!),
      late.map((b) => b.admittedAt!),
    );
    const lag = soldOutLag(buyers, lastSaleAt, final);
    if (lag.reason) progress(`sold-out lag not measured: ${lag.reason}`);
    const admittedCount = buyers.filter((b) => b.admittedAt !== undefined).length;
    const noChance = buyers.filter((b) => b.noChance).length;
    const oversold = final.booked + final.held > SEATS || bookedSeats !== final.booked;

    // Where an admitted buyer's first hold attempt spent its time, step by step (client clock, then
    // the Worker's and the object's: bench/worker.ts timedHold), and how admissions came.
    const firsts = buyers.filter((b) => b.firstHold && b.admittedEpoch !== undefined);
    const reached = firsts.filter((b) => b.firstHold!.server.objIn !== undefined);
    const step = (from: (b: Buyer) => number, to: (b: Buyer) => number, of = reached) => p50p99(of.map((b) => to(b) - from(b)));
    const srv = (k: string) => (b: Buyer) => b.firstHold!.server[k];
    const cli = (k: keyof ClientTiming) => (b: Buyer) => b.firstHold!.client[k];
    const split = [
      `frame->sent ${step((b) => b.admittedEpoch!, cli("sent"))}`,
      `sent->Worker ${step(cli("sent"), srv("workerIn"))}`,
      `Worker before the object ${step(srv("workerIn"), srv("rpcOut"))}`,
      `to the object ${step(srv("rpcOut"), srv("objIn"))}`,
      `in the object ${step(srv("objIn"), srv("objOut"))}`,
      `back ${step(srv("objOut"), srv("rpcBack"))}`,
      `Worker after ${step(srv("rpcBack"), srv("workerOut"))}`,
      `Worker->bench read ${step(srv("workerOut"), cli("received"))}`,
    ].join("; ");
    const loopMs = (ns: number) => ns / 1e6;
    const perTick = new Map<number, number>();
    for (const r of roomRecords) if (r.admittedAt != null) perTick.set(r.admittedAt, (perTick.get(r.admittedAt) ?? 0) + 1);
    const ticks = [...perTick.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
    const completions = JSON.parse((await http.request("GET", `/__bench/onsale/hold-completions?event=${ev.eventId}`)).body) as number[];
    const perSecond = new Map<number, number>();
    for (const at of completions) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
    const shedBuyers = buyers.filter((b) => b.shed > 0);
    const firstTickAt = Math.min(...roomRecords.filter((r) => r.admittedAt != null).map((r) => r.admittedAt!));
    const inFirstTick = new Set(roomRecords.filter((r) => r.admittedAt === firstTickAt).map((r) => r.userId));
    const holdsOf = (f: (b: Buyer) => boolean) => buyers.filter((b) => b.holdMs !== undefined && f(b)).map((b) => b.holdMs!);

    const rows: (string | number)[][] = [
      ["buyers (sockets + HTTP)", BUYERS],
      ["seats", SEATS],
      ["shards", SHARDS],
      ["without the room: hold p50 / p99 (ms)", `${fmt(without.percentile(50))} / ${fmt(without.percentile(99))}`],
      ["without the room: 201 / 409 / 503 / dropped (connection closed, no answer)", `${without.count(201)} / ${without.count(409)} / ${without.count(503)} / ${without.count(0)}`],
      ["without the room: offered holds/s", fmt(BUYERS / withoutSeconds)],
      ["through the room: admitted buyers' hold p50 / p99 (ms)", `${fmt(withRoom.percentile(50))} / ${fmt(withRoom.percentile(99))}`],
      ["through the room: admitted / sold seats", `${admittedCount} / ${final.booked}`],
      [
        "through the room: admitted buyers' hold p50 / p99 (ms), admitted in the first tick that admitted (n) / later (n)",
        `${p50p99(holdsOf((b) => inFirstTick.has(b.id)))} (${holdsOf((b) => inFirstTick.has(b.id)).length}) / ${p50p99(holdsOf((b) => !inFirstTick.has(b.id)))} (${holdsOf((b) => !inFirstTick.has(b.id)).length})`,
      ],
      ["through the room: first hold attempt's status, 201 / 409 / 503 / other", [201, 409, 503].map((st) => firsts.filter((b) => b.firstHold!.status === st).length).join(" / ") + ` / ${firsts.filter((b) => ![201, 409, 503].includes(b.firstHold!.status)).length}`],
      ["through the room: buyers shed (503) at least once / sends after 503 / time waiting on Retry-After p50 / p99 of those (ms)", `${shedBuyers.length} / ${shedRetries} / ${p50p99(shedBuyers.map((b) => b.shedMs))}`],
      [`through the room: first attempt that reached the object (${reached.length}), p50 / p99 per step (ms)`, split],
      ["through the room: first attempt, admitted frame -> answer p50 / p99 (ms), all / reached the object", `${step((b) => b.admittedEpoch!, cli("received"), firsts)} / ${step((b) => b.admittedEpoch!, cli("received"))}`],
      ["through the room: holds inside the object at once when one entered, p50 / p99 / max", `${p50p99(reached.map(srv("inside")))} / ${fmt(Math.max(0, ...reached.map(srv("inside"))))}`],
      ["through the room: admitted per tick, first / max / median over ticks that admitted (ticks)", ticks.length ? `${ticks[0]} / ${Math.max(...ticks)} / ${fmt(pct(ticks, 50))} (${ticks.length})` : "-"],
      ["through the room: holds the object completed per second, max / median over busy seconds", perSecond.size ? `${Math.max(...perSecond.values())} / ${fmt(pct([...perSecond.values()], 50))}` : "-"],
      ["phase 2 CPU, share of one core: workerd (the Worker and every object) / postgres / bench process", `${fmt((100 * cpuMs.workerd) / phase2Ms)}% / ${fmt((100 * cpuMs.postgres) / phase2Ms)}% / ${fmt((100 * cpuMs["load gen."]) / phase2Ms)}%`],
      ["bench process event-loop delay during phase 2, p50 / p99 / max (ms)", `${fmt(loopMs(loopDelay.percentile(50)))} / ${fmt(loopMs(loopDelay.percentile(99)))} / ${fmt(loopMs(loopDelay.max))}`],
      ["late arrivals: Kendall tau (room's join time vs admission tick, a tick's set tied) / largest inversion (ms) / passed over", lateCell(roomLate)],
      ["late arrivals as the sockets saw them: Kendall tau (join answered vs admitted frame, bench clock)", late.length > 1 ? socketTau.toFixed(4) : "-"],
      ["early shuffle: first admitted by join quarter, chi-square (3 dof) vs 0.1% critical", shuffleCell(uniform)],
      ["buyers sent before the opening who joined after it (the room ranks them late)", joinedAfterOpening],
      ["last seat sold -> every waiting socket sold_out (ms)", lag.lagMs === null ? `- (${lag.reason})` : `${fmt(lag.lagMs)} (${lag.told} sockets)`],
      ["room at the end: waiting / available / held / sold", `${final.waiting} / ${final.available} / ${final.held} / ${final.booked}`],
      ["oversold seats", oversold ? `YES: booked ${final.booked} + held ${final.held} of ${SEATS}` : 0],
      ["admitted buyers who found no seat", noChance],
      [`headless (RPC, ${HEADLESS} visitors): joins/s, ${SHARDS} shards vs 1`, `${fmt(sharded.perSecond)} vs ${fmt(single.perSecond)}`],
      ["headless: admitted / sold seats / ticks to sold out", `${drain.admitted.length} / ${drain.final.booked} / ${drain.timeline.length}`],
      [`headless: late arrivals (${HEADLESS_EARLY} joined before the opening): Kendall tau / largest inversion (ms) / passed over`, lateCell(hLate)],
      ["headless: early shuffle, first admitted by join quarter (chi-square vs 0.1% critical)", shuffleCell(hUniform)],
      ["headless: oversold seats / admitted buyers who found no seat (the object's refusals; of them, held after the room's grace)", `${hOversold ? "YES" : 0} / ${drain.noSeat}${drain.noSeat ? ` (${JSON.stringify(drain.noSeatCodes)}; ${drain.noSeatAfterGrace} after the grace)` : ""}`],
      ["headless: longest time from admission to first hold", `${fmt(drain.firstHoldLagMaxMs)} ms`],
    ];
    const table = markdownTable(["measure", "value"], rows);
    console.log(table);
    const svg = chart(timeline, SEATS);
    if (RECORD) {
      writeFileSync(new URL("../docs/onsale-bench.svg", import.meta.url), svg);
      recordBenchmark("onsale", "On-sale through the waiting room (bench/onsale.ts)", `${table}\n\n![queue, admissions, holds and sales over time](onsale-bench.svg)`);
    }
    if (oversold || hOversold) throw new Error("oversold");
    // The room's promise: an admitted buyer who holds within the grace finds a seat.
    if (drain.noSeat - drain.noSeatAfterGrace > 0) throw new Error(`${drain.noSeat - drain.noSeatAfterGrace} headless buyers held within the grace and found no seat`);
    if (sharded.joined !== HEADLESS || single.joined !== HEADLESS) throw new Error(`headless joins lost: ${sharded.joined}, ${single.joined} of ${HEADLESS}`);
  } catch (e) {
    // Tell a workerd that died (a crash) from a request that failed on a live one.
    const gone = stack.workerdPids.front.filter((pid) => !existsSync(`/proc/${pid}`));
    progress(`failed; workerd ${gone.length ? `pid ${gone.join(", ")} is gone (crashed)` : "still running"}`);
    throw e;
  } finally {
    http.close();
    await stack.close();
  }
}

/** Tau, largest inversion and passed-over count of lateOrder; "-" and why when fewer than two late arrivals were admitted. */
function lateCell(m: ReturnType<typeof lateOrder>): string {
  if (m.admitted < 2) return `- (${m.admitted} late arrival admitted)`;
  return `${m.tau.toFixed(4)} / ${fmt(m.maxInversionMs)} / ${m.passedOver} (${m.admitted} admitted over ${m.ticks} ticks)`;
}

function shuffleCell(m: ReturnType<typeof earlyShuffle>): string {
  if (m.sampled < 8) return `- (${m.sampled} early visitors sampled of ${m.early})`;
  return `${m.counts.join("/")} of ${m.early}: ${m.chi2.toFixed(2)} vs ${m.critical.toFixed(2)}, ${m.pass ? "uniform" : "NOT uniform"}`;
}

/** Queue length, admissions per second, seats held and sold over time, as a small SVG line chart. */
function chart(points: { t: number; waiting: number; admitted: number; held: number; booked: number }[], seats: number): string {
  const W = 720;
  const H = 300;
  const pad = 40;
  if (points.length < 2) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"></svg>`;
  const tMax = points.at(-1)!.t;
  const rate = points.map((p, i) => (i === 0 ? 0 : ((p.admitted - points[i - 1].admitted) * 1000) / Math.max(1, p.t - points[i - 1].t)));
  const series = [
    { name: "waiting", color: "#1f77b4", values: points.map((p) => p.waiting) },
    { name: "admitted/s", color: "#ff7f0e", values: rate },
    { name: "held seats", color: "#2ca02c", values: points.map((p) => p.held) },
    { name: "sold seats", color: "#d62728", values: points.map((p) => p.booked) },
  ];
  const yMax = Math.max(seats, ...series.flatMap((s) => s.values), 1);
  const x = (t: number) => pad + ((W - 2 * pad) * t) / Math.max(1, tMax);
  const y = (v: number) => H - pad - ((H - 2 * pad) * v) / yMax;
  const lines = series
    .map((s, k) => {
      const d = s.values.map((v, i) => `${x(points[i].t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      return `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${d}"/><text x="${W - pad - 110}" y="${pad + 14 * k}" fill="${s.color}" font-size="11">${s.name}</text>`;
    })
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#999"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="#999"/><text x="${pad}" y="${H - 10}" font-size="11">0 s</text><text x="${W - pad - 30}" y="${H - 10}" font-size="11">${(tMax / 1000).toFixed(0)} s</text><text x="4" y="${pad}" font-size="11">${yMax}</text>${lines}</svg>\n`;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
