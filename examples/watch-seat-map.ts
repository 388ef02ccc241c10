// Watch the seat map of the first reserved-seating event live for a few seconds, printing every
// change as it happens, then exit. Against `npm run dev`: npx tsx examples/watch-seat-map.ts
// (WATCH_SECONDS, default 10; EVENTLY_URL overrides the address).
import WebSocket from "ws";
import { createEventlyClient, LiveSeatMap, unwrap } from "../client/src/index";

const baseUrl = process.env.EVENTLY_URL ?? "http://127.0.0.1:8787";
const seconds = Number(process.env.WATCH_SECONDS ?? 10);
const api = createEventlyClient({ baseUrl });
const { data: events } = unwrap(await api.GET("/v1/events", { params: { query: { limit: 20 } } }));
const event = events.find((e) => e.seating === "reserved") ?? events[0];
if (!event) throw new Error("no event on sale: is `npm run dev` running?");

const live = new LiveSeatMap({
  baseUrl,
  eventId: event.id,
  WebSocket, // Node 20 has no global WebSocket; browsers and Node 22 need no option
  onFrame: (f) => {
    if (f.type === "delta") console.log(`v${f.version}: ${f.changes.map((c) => `${c.id} ${c.status}`).join(", ") || "counts only"}`);
  },
});
await live.ready();
const a = live.availability!;
console.log(`${event.name}: version ${live.version}, ${a.available} available, ${a.held} held, ${a.booked} booked; watching ${seconds} s`);
await new Promise((r) => setTimeout(r, seconds * 1000));
console.log(`now version ${live.version}, ${live.availability!.available} available (${live.gaps} resyncs, ${live.reconnects} reconnects)`);
live.close();
