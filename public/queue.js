// The waiting room on the event page (docs/onsale.md). While an event is on sale, its page shows
// your place in the queue (position, estimated wait, a progress bar) instead of the hold panel;
// once you are admitted the hold panel comes back and every hold carries your admission.
// Its own module: app.js calls mountQueue() when it shows an event and admissionFor() when it holds.

const storageKey = (eventId) => `evently.admission.${eventId}`;

/** Your admission token for this event while it lasts, else undefined. */
export function admissionFor(eventId) {
  const a = JSON.parse(sessionStorage.getItem(storageKey(eventId)) ?? "null");
  return a && Date.parse(a.expiresAt) > Date.now() ? a.token : undefined;
}

/** Drops the stored admission (refused by the inventory: a new on-sale superseded it, or it ended). */
export function forgetAdmission(eventId) {
  sessionStorage.removeItem(storageKey(eventId));
}

async function call(method, path, token, body) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** sha256(`<challenge>:<userId>:<nonce>`) with `difficulty` leading zero bits (API.md, docs/onsale.md). */
async function solve(challenge, userId, difficulty) {
  const enc = new TextEncoder();
  for (let n = 0; ; n++) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(`${challenge}:${userId}:${n}`)));
    let bits = 0;
    for (const byte of digest) {
      if (byte === 0) { bits += 8; continue; }
      bits += Math.clz32(byte) - 24;
      break;
    }
    if (bits >= difficulty) return String(n);
  }
}

const waitText = (s) => (s >= 90 ? `about ${Math.round(s / 60)} min` : `about ${Math.max(1, Math.round(s))} s`);

/**
 * When the event is on sale and you hold no admission for it: hides `anchor` (the hold panel) and
 * shows the queue before it, joined and followed live, until you are admitted (then calls
 * `onAdmitted`) or the page moves on. Nothing happens for an event that is not on sale.
 */
export async function mountQueue({ eventId, anchor, token, userId, onAdmitted = () => {} }) {
  if (admissionFor(eventId)) return;
  const probe = await call("GET", `/v1/events/${eventId}/queue/challenge`);
  if (probe.status !== 200 || !anchor.isConnected) return;
  const panel = document.createElement("div");
  panel.id = "queue-panel";
  panel.className = "panel";
  panel.setAttribute("aria-live", "polite");
  anchor.before(panel);
  anchor.hidden = true;
  const line = (id, text) => Object.assign(document.createElement("p"), { id, textContent: text });
  if (!token || !userId) {
    panel.replaceChildren(line("queue-status", "This on-sale runs through a waiting room: sign in to join the queue."));
    return;
  }

  let first = null;
  let ws = null;
  let watch = null;
  const done = (admitted) => {
    clearInterval(watch);
    ws?.close();
    if (admitted) {
      panel.remove();
      anchor.hidden = false;
      onAdmitted();
    }
  };
  const show = (place) => {
    if (place.status === "admitted" || place.type === "admitted") {
      sessionStorage.setItem(storageKey(eventId), JSON.stringify(place.admission));
      return done(true);
    }
    if (place.status === "sold_out" || place.type === "sold_out") {
      const p = line("queue-status", "Sold out. ");
      if (place.waitlist) p.append(Object.assign(document.createElement("span"), { textContent: "Seats that come back go to the waitlist." }));
      return panel.replaceChildren(p);
    }
    if (place.status === "expired" || place.type === "expired") {
      return panel.replaceChildren(line("queue-status", "Your shopping time for this event is over."));
    }
    const opensAt = place.opensAt ? new Date(place.opensAt) : null;
    if (place.position === null || place.position === undefined) {
      return panel.replaceChildren(
        line("queue-status", "You are in the queue."),
        line("queue-position", opensAt && opensAt > new Date() ? `Places are drawn at random when the sale opens, ${opensAt.toLocaleTimeString()}.` : "Places are being drawn…"),
      );
    }
    first ??= place.position;
    const progress = Object.assign(document.createElement("progress"), { id: "queue-progress", max: first, value: Math.max(0, first - place.position) });
    progress.setAttribute("aria-label", "Progress through the queue");
    panel.replaceChildren(
      line("queue-status", "You are in the queue."),
      line("queue-position", `Position ${place.position}`),
      line("queue-wait", `Estimated wait: ${waitText(place.estimatedWaitSeconds ?? 0)}`),
      progress,
    );
  };

  let body = {};
  if (probe.body.difficulty > 0) {
    panel.replaceChildren(line("queue-status", "Joining the queue…"));
    body = { challenge: probe.body.challenge, nonce: await solve(probe.body.challenge, userId, probe.body.difficulty) };
  }
  const joined = await call("POST", `/v1/events/${eventId}/queue`, token, body);
  if (joined.status !== 200 && joined.status !== 201) {
    return panel.replaceChildren(line("queue-status", `Could not join the queue: ${joined.body?.error?.message ?? joined.status}`));
  }
  show(joined.body);
  if (joined.body.status === "admitted") return;

  const connect = () => {
    const url = new URL(`/v1/events/${eventId}/queue/live?user=${encodeURIComponent(userId)}`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(url);
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token }));
    ws.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      if (frame.type !== "auth" && frame.type !== "pong") show(frame);
    };
  };
  connect();
  // The page moved on (another event, the list): stop following. A dropped socket reconnects.
  watch = setInterval(() => {
    if (!anchor.isConnected) done(false);
    else if (ws.readyState === WebSocket.CLOSED) connect();
  }, 1_000);
}
