// The event's live socket (docs/inventory.md): a snapshot, then deltas whose version must be exactly
// the next one (a gap asks for a resync); reconnects with backoff and jitter. Holds and releases go
// over it after an `auth` frame; each request is named by a ref, which is also its idempotency key,
// so a request cut off by a reconnect is sent again with the same ref and answered once. Once
// signed in, the socket also tells the buyer their bookings' outcomes (`booking` frames), so the
// order panel waits for those instead of polling (checkout.js).
import { refresh, session } from "./api.js";

export function openLive(eventId, { onState, onStatus, onAuthLost }) {
  const live = { version: null, authed: false, closed: false, attempts: 0, pending: new Map(), ws: null, timer: null, renewTimer: null, retriedAuth: false };
  // The latest `booking` frame per booking: a frame may arrive before the POST that made the booking
  // has answered, so a watcher that starts late still gets it. A few are enough (one order at a time).
  const bookings = new Map();
  const bookingWatchers = new Set();
  const channelWatchers = new Set();
  // "The push channel": open and signed in. Watchers hear only when that changes.
  const setAuthed = (authed) => {
    if (live.authed === authed) return;
    live.authed = authed;
    for (const fn of channelWatchers) fn(authed);
  };

  const authLost = () => {
    for (const p of live.pending.values()) {
      clearTimeout(p.timer);
      p.reject(Object.assign(new Error("Your session ended: sign in again."), { code: "UNAUTHENTICATED" }));
    }
    live.pending.clear();
    onAuthLost?.();
  };
  const sendAuth = () => {
    if (session.token && live.ws?.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify({ type: "auth", token: session.token }));
  };
  // The socket's authority ends with the access token it was given: renew it shortly before, with
  // a refreshed token, so a buyer who stays on the page keeps holding seats.
  const scheduleRenewal = (expiresAt) => {
    clearTimeout(live.renewTimer);
    const inMs = Date.parse(expiresAt) - Date.now() - 30_000;
    if (Number.isFinite(inMs)) live.renewTimer = setTimeout(async () => { if (await refresh()) sendAuth(); }, Math.max(0, inMs));
  };

  function connect() {
    if (live.closed) return;
    const url = new URL(`/v1/events/${eventId}/live`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    live.ws = ws;
    ws.onopen = () => {
      live.attempts = 0;
      onStatus("live");
      sendAuth();
    };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.type === "snapshot") {
        live.version = msg.version;
        onState({ full: true, seats: msg.seats ?? [], availability: msg.availability, version: msg.version });
      } else if (msg.type === "delta") {
        if (live.version === null || msg.version !== live.version + 1) {
          ws.send(JSON.stringify({ type: "resync" }));
          return;
        }
        live.version = msg.version;
        onState({ full: false, seats: msg.changes ?? [], availability: msg.availability, version: msg.version });
      } else if (msg.type === "booking") {
        bookings.delete(msg.id);
        bookings.set(msg.id, msg);
        if (bookings.size > 20) bookings.delete(bookings.keys().next().value);
        for (const fn of bookingWatchers) fn(msg);
      } else if (msg.type === "auth") {
        setAuthed(msg.ok);
        if (msg.ok) {
          live.retriedAuth = false;
          scheduleRenewal(msg.expiresAt);
          for (const p of live.pending.values()) ws.send(p.frame);
        } else if (!live.retriedAuth && session.current?.refreshToken) {
          // An expired access token: refresh once and try again before giving up.
          live.retriedAuth = true;
          refresh().then((ok) => (ok ? sendAuth() : authLost()));
        } else authLost();
      } else if (msg.type === "reply") {
        const p = live.pending.get(msg.ref);
        if (!p) return;
        live.pending.delete(msg.ref);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg);
        else p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code, details: msg.error.details }));
      }
    };
    ws.onclose = () => {
      setAuthed(false);
      if (live.closed) return;
      // Exponential backoff with jitter, so a restarted object is not hit by every client at once.
      const delay = Math.min(30_000, 500 * 2 ** live.attempts) * (0.5 + Math.random() / 2);
      live.attempts += 1;
      onStatus(`reconnecting in ${Math.round(delay / 100) / 10} s…`);
      live.timer = setTimeout(connect, delay);
    };
  }
  connect();

  return {
    /** Sends a hold or release frame and resolves with the server's reply (rejects with its error). */
    send(frame) {
      return new Promise((resolve, reject) => {
        const ref = crypto.randomUUID();
        const entry = { frame: JSON.stringify({ ...frame, ref }), resolve, reject };
        entry.timer = setTimeout(() => {
          live.pending.delete(ref);
          reject(Object.assign(new Error("The live connection did not answer; try again."), { code: "TIMEOUT" }));
        }, 10_000);
        live.pending.set(ref, entry);
        if (live.authed) live.ws.send(entry.frame);
        else if (!session.token) {
          live.pending.delete(ref);
          clearTimeout(entry.timer);
          reject(Object.assign(new Error("Sign in to hold seats."), { code: "UNAUTHENTICATED" }));
        }
      });
    },
    /** Whether `booking` frames can reach this page now: the socket is open and signed in. */
    get pushOpen() {
      return live.authed && live.ws?.readyState === WebSocket.OPEN;
    },
    /** Calls `fn` with each `booking` frame of booking `id` (first with the latest one already received); returns the unsubscribe. */
    watchBooking(id, fn) {
      const watcher = (msg) => { if (msg.id === id) fn(msg); };
      bookingWatchers.add(watcher);
      if (bookings.has(id)) fn(bookings.get(id));
      return () => bookingWatchers.delete(watcher);
    },
    /** Calls `fn(open)` whenever the push channel opens (signed in) or closes; returns the unsubscribe. */
    watchChannel(fn) {
      channelWatchers.add(fn);
      return () => channelWatchers.delete(fn);
    },
    close() {
      live.closed = true;
      clearTimeout(live.timer);
      clearTimeout(live.renewTimer);
      for (const p of live.pending.values()) clearTimeout(p.timer);
      live.ws?.close();
    },
  };
}
