import { BOOKING_EVENTS_HEARTBEAT, BOOKING_EVENTS_HEARTBEAT_MS, bookingEvent, isFinalBookingStatus, type BookingPush, type BookingPushStatus } from "../contract";

/** Open streams this object keeps; past it a new one is refused with 503 (the client reads the booking instead). */
export const BOOKING_STREAMS_MAX = 5_000;
/**
 * A stream whose booking has not settled by then is ended; a client reconnects and reads the
 * status from Postgres again. So a push that never came (the push is a courtesy) costs at most this.
 */
export const BOOKING_STREAM_MAX_MS = 300_000;

const STATUSES = new Set<BookingPushStatus>(["pending", "confirmed", "failed", "cancelled"]);
const encoder = new TextEncoder();

interface Stream {
  userId: string;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  endsAt: number;
}

/**
 * The server-sent event streams of `GET /v1/bookings/:id/events` (docs/bookings.md), held by the
 * event's object because that is where the booking's outcome is pushed (`pushBooking`). In memory
 * only: a restarted object drops its streams, whose clients reconnect and read Postgres again.
 * One heartbeat timer for all streams, running only while there are some.
 */
export class BookingStreams {
  private readonly byBooking = new Map<string, Set<Stream>>();
  private count = 0;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  /** Replaced in tests (through runInDurableObject), so a heartbeat can be seen without waiting 15 s. */
  heartbeatMs = BOOKING_EVENTS_HEARTBEAT_MS;

  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.count;
  }

  /** The Worker's internal request (body: the booking's current status, read from Postgres): a stream that starts with that status. */
  async open(request: Request): Promise<Response> {
    const current = parsePush(await request.json().catch(() => null));
    if (!current) return Response.json({ code: "VALIDATION_FAILED", message: "Expected the booking's current status" }, { status: 400 });
    if (this.count >= BOOKING_STREAMS_MAX) return Response.json({ code: "OVERLOADED", message: "Too many booking streams" }, { status: 503 });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const stream: Stream = { userId: current.userId, writer: writable.getWriter(), endsAt: this.now() + BOOKING_STREAM_MAX_MS };
    this.write(current.id, stream, bookingEvent(current));
    if (isFinalBookingStatus(current.status)) this.end(current.id, stream);
    else this.add(current.id, stream);
    return new Response(readable, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" } });
  }

  /** Writes the booking's status to its buyer's streams; a final status ends them. */
  send(push: BookingPush): number {
    const streams = this.byBooking.get(push.id);
    if (!streams) return 0;
    const text = bookingEvent(push);
    let sent = 0;
    for (const s of streams) {
      if (s.userId !== push.userId) continue;
      this.write(push.id, s, text);
      sent++;
      if (isFinalBookingStatus(push.status)) this.end(push.id, s);
    }
    return sent;
  }

  private add(bookingId: string, stream: Stream): void {
    let set = this.byBooking.get(bookingId);
    if (!set) this.byBooking.set(bookingId, (set = new Set()));
    set.add(stream);
    this.count++;
    this.heartbeat ??= setInterval(() => this.beat(), this.heartbeatMs);
  }

  private remove(bookingId: string, stream: Stream): void {
    const set = this.byBooking.get(bookingId);
    if (!set?.delete(stream)) return;
    this.count--;
    if (set.size === 0) this.byBooking.delete(bookingId);
    if (this.count === 0 && this.heartbeat !== null) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
  }

  /** Not awaited: a slow reader must not hold up the others. A write that fails means the client left. */
  private write(bookingId: string, stream: Stream, text: string): void {
    stream.writer.write(encoder.encode(text)).catch(() => this.remove(bookingId, stream));
  }

  private end(bookingId: string, stream: Stream): void {
    this.remove(bookingId, stream);
    stream.writer.close().catch(() => {});
  }

  /** Heartbeats keep idle streams open through proxies and find the ones whose client left; old ones end. */
  private beat(): void {
    const now = this.now();
    for (const [bookingId, set] of this.byBooking) {
      for (const s of set) {
        if (now >= s.endsAt) this.end(bookingId, s);
        else this.write(bookingId, s, BOOKING_EVENTS_HEARTBEAT);
      }
    }
  }
}

function parsePush(raw: unknown): BookingPush | null {
  const p = raw as Partial<BookingPush> | null;
  if (typeof p?.userId !== "string" || typeof p.id !== "string" || !STATUSES.has(p.status as BookingPushStatus)) return null;
  return { userId: p.userId, id: p.id, status: p.status as BookingPushStatus, failureReason: typeof p.failureReason === "string" ? p.failureReason : null };
}
