// Evently's small web client: event list, live seat map over the versioned WebSocket protocol,
// holds (sent over that socket) with a countdown, sandbox booking. No framework: the API contract is
// the whole dependency.

const view = document.getElementById("view");
const flash = document.getElementById("flash");
const session = {
  get token() { return sessionStorage.getItem("evently.token"); },
  get user() { return JSON.parse(sessionStorage.getItem("evently.user") ?? "null"); },
  save(body) {
    sessionStorage.setItem("evently.token", body.accessToken);
    sessionStorage.setItem("evently.user", JSON.stringify(body.user));
  },
  clear() { sessionStorage.removeItem("evently.token"); sessionStorage.removeItem("evently.user"); },
};

function say(text) { flash.textContent = text; }

async function api(method, path, body) {
  const headers = { "content-type": "application/json" };
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  if (method === "POST") headers["idempotency-key"] = crypto.randomUUID();
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const err = new Error(data?.error?.message ?? `${res.status}`);
    err.code = data?.error?.code;
    err.details = data?.error?.details;
    err.status = res.status;
    throw err;
  }
  return data;
}

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};
const money = (cents, currency = "EUR") => new Intl.NumberFormat("en", { style: "currency", currency }).format(cents / 100);

// ---- sign in ----
const loginForm = document.getElementById("login");
function renderWho() {
  const user = session.user;
  loginForm.hidden = !!user;
  document.getElementById("who").hidden = !user;
  document.getElementById("who-email").textContent = user ? user.email : "";
}
loginForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(loginForm);
  try {
    session.save(await api("POST", "/v1/auth/login", { email: form.get("email"), password: form.get("password") }));
    say(`Signed in as ${session.user.email}`);
    renderWho();
    route();
  } catch (err) {
    say(`Sign in failed: ${err.message}`);
  }
});
document.getElementById("logout").addEventListener("click", async () => {
  try { await api("POST", "/v1/auth/logout"); } catch { /* the token may already be dead */ }
  session.clear();
  renderWho();
  route();
});

// ---- event list ----
async function showList() {
  view.replaceChildren(el("h1", {}, "Upcoming events"), el("p", {}, "Loading…"));
  const { data } = await api("GET", "/v1/events?limit=50");
  const list = el("ul", { class: "events" });
  for (const ev of data) {
    list.append(el("li", {}, el("a", { href: `#/events/${ev.id}` },
      el("strong", {}, ev.name), el("br"),
      `${new Date(ev.startsAt).toLocaleString()} · ${ev.seating === "general" ? "general admission" : "reserved seating"}`)));
  }
  view.replaceChildren(el("h1", {}, "Upcoming events"), data.length ? list : el("p", {}, "No upcoming events."));
}

// ---- one event ----
let current = null; // state of the event page; torn down when leaving it

function teardown() {
  if (!current) return;
  current.closed = true;
  for (const p of current.pending.values()) clearTimeout(p.timer);
  clearInterval(current.timer);
  clearTimeout(current.reconnectTimer);
  current.ws?.close();
  current = null;
}

async function showEvent(id) {
  const ev = await api("GET", `/v1/events/${id}`);
  const seatsRes = await api("GET", `/v1/events/${id}/seats`);
  const state = {
    ev, version: seatsRes.version, seats: new Map(), selected: new Set(), hold: null, booking: null,
    availability: seatsRes.availability ?? ev.availability, attempts: 0, closed: false,
    authed: false, pending: new Map(),
  };
  current = state;
  for (const s of seatsRes.seats ?? []) state.seats.set(s.id, { ...s });

  const live = el("p", { class: "live", id: "live-status" }, "connecting…");
  const map = el("div", { id: "seat-map", role: "grid", "aria-label": "Seat map" });
  const side = el("div", { id: "hold-panel", class: "panel", "aria-live": "polite" });
  const avail = el("p", { id: "availability" });
  view.replaceChildren(
    el("p", {}, el("a", { href: "#/" }, "← all events")),
    el("h1", {}, ev.name),
    el("p", {}, `${new Date(ev.startsAt).toLocaleString()} · ${ev.description ?? ""}`),
    avail, live,
    ev.seating === "reserved"
      ? el("div", { class: "legend", "aria-hidden": "true" },
          el("span", { style: "--c: var(--available)" }, "available"),
          el("span", { style: "--c: var(--held)" }, "held •"),
          el("span", { style: "--c: var(--booked)" }, "booked ×"),
          el("span", { style: "--c: var(--mine)" }, "yours ★"),
          el("span", { style: "--c: var(--selected)" }, "selected ✓"))
      : null,
    ev.seating === "reserved" ? map : null,
    side,
  );

  state.render = () => {
    const a = state.availability;
    if (a) avail.textContent = `${a.available} of ${a.capacity} available · ${a.held} held · ${a.booked} booked`;
    if (ev.seating === "reserved") renderMap(state, map);
    renderPanel(state, side);
  };
  state.render();
  connect(state, live);
  state.timer = setInterval(() => renderCountdown(state), 1000);
}

function seatLabel(s, mine) {
  const status = mine ? "held by you" : s.status;
  return `Section ${s.section} row ${s.row} seat ${s.number}, ${status}, ${money(s.priceCents, current?.ev.currency)}`;
}

function renderMap(state, map) {
  const mine = new Set(state.hold?.seats?.map((s) => s.id) ?? []);
  const bySection = new Map();
  for (const s of state.seats.values()) {
    if (!bySection.has(s.section)) bySection.set(s.section, new Map());
    const rows = bySection.get(s.section);
    if (!rows.has(s.row)) rows.set(s.row, []);
    rows.get(s.row).push(s);
  }
  const focusedId = document.activeElement?.dataset?.seat;
  const sections = [];
  for (const [name, rows] of bySection) {
    const section = el("section", { class: "section", "aria-label": `Section ${name}` }, el("h2", {}, `Section ${name}`));
    for (const [label, seats] of rows) {
      seats.sort((a, b) => a.number - b.number);
      const row = el("div", { class: "row", role: "row" }, el("span", { class: "row-label", "aria-hidden": "true" }, label));
      for (const s of seats) {
        const isMine = mine.has(s.id);
        const selectable = s.status === "available" && !state.hold;
        row.append(el("button", {
          type: "button", class: "seat", role: "gridcell", "data-seat": s.id, "data-status": s.status,
          "data-mine": isMine ? "true" : "false",
          "aria-pressed": state.selected.has(s.id) ? "true" : "false",
          "aria-disabled": selectable ? "false" : "true",
          "aria-label": seatLabel(s, isMine), title: seatLabel(s, isMine),
          onclick: () => toggleSeat(state, s.id),
          onkeydown: (e) => moveFocus(e),
        }));
      }
      section.append(row);
    }
    sections.push(section);
  }
  map.replaceChildren(...sections);
  if (focusedId) map.querySelector(`[data-seat="${CSS.escape(focusedId)}"]`)?.focus();
}

// Arrow keys move between seats (rows and columns), like a spreadsheet grid.
function moveFocus(e) {
  const btn = e.currentTarget;
  const row = btn.parentElement;
  const seats = [...row.querySelectorAll(".seat")];
  const i = seats.indexOf(btn);
  let target = null;
  if (e.key === "ArrowRight") target = seats[i + 1];
  else if (e.key === "ArrowLeft") target = seats[i - 1];
  else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    const rows = [...document.querySelectorAll("#seat-map .row")];
    const next = rows[rows.indexOf(row) + (e.key === "ArrowDown" ? 1 : -1)];
    const nextSeats = next ? [...next.querySelectorAll(".seat")] : [];
    target = nextSeats[Math.min(i, nextSeats.length - 1)];
  }
  if (target) { e.preventDefault(); target.focus(); }
}

function toggleSeat(state, id) {
  const s = state.seats.get(id);
  if (!s || s.status !== "available" || state.hold) return;
  if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
  state.render();
}

function renderPanel(state, panel) {
  const parts = [];
  const signedIn = !!session.user;
  if (!signedIn) parts.push(el("p", {}, "Sign in to hold seats."));
  if (state.booking) {
    parts.push(el("p", { id: "booking-status" }, "Booking ", el("strong", { class: `status-${state.booking.status}` }, state.booking.status),
      ` · ${money(state.booking.totalCents ?? 0, state.ev.currency)}`));
  }
  if (state.hold && !state.booking) {
    parts.push(
      el("p", {}, `Your hold: ${state.hold.seats.length ? state.hold.seats.map((s) => s.id).join(", ") : `${state.hold.quantity} ticket(s)`} · ${money(state.hold.totalCents, state.ev.currency)}`),
      el("p", {}, "Expires in ", el("span", { class: "countdown", id: "hold-countdown" }, countdownText(state.hold.expiresAt))),
      el("label", {}, "Payment ", el("select", { id: "payment-method" },
        el("option", { value: "pm_card_ok" }, "Sandbox card: succeeds"),
        el("option", { value: "pm_card_declined" }, "Sandbox card: declined"),
        el("option", { value: "pm_card_slow" }, "Sandbox card: slow"))),
      " ",
      el("button", { type: "button", id: "book", onclick: () => book(state) }, "Book"),
      " ",
      el("button", { type: "button", id: "release", onclick: () => release(state) }, "Release"),
    );
  } else if (!state.hold && signedIn) {
    if (state.ev.seating === "reserved") {
      parts.push(el("button", { type: "button", id: "hold", disabled: state.selected.size === 0, onclick: () => hold(state) },
        `Hold ${state.selected.size} seat(s)`));
    } else {
      parts.push(el("label", {}, "Tickets ", el("input", { id: "quantity", type: "number", min: "1", max: String(state.ev.maxSeatsPerUser ?? 8), value: "1" })),
        " ", el("button", { type: "button", id: "hold", onclick: () => hold(state) }, "Hold tickets"));
    }
  }
  panel.replaceChildren(...parts);
}

function countdownText(expiresAt) {
  if (!expiresAt) return "—";
  const left = Math.max(0, Math.round((Date.parse(expiresAt) - Date.now()) / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}
function renderCountdown(state) {
  const node = document.getElementById("hold-countdown");
  if (node && state.hold) node.textContent = countdownText(state.hold.expiresAt);
}

async function hold(state) {
  const body = state.ev.seating === "reserved"
    ? { seatIds: [...state.selected] }
    : { quantity: Number(document.getElementById("quantity").value) };
  try {
    state.hold = (await sendLive(state, { type: "hold", ...body })).hold;
    state.selected.clear();
    say("Held. Book before the countdown ends.");
  } catch (err) {
    say(err.code === "SEAT_UNAVAILABLE" ? `Taken just now: ${(err.details?.seatIds ?? []).join(", ")}` : `Hold failed: ${err.message}`);
    for (const id of err.details?.seatIds ?? []) state.selected.delete(id);
  }
  state.render();
}

async function release(state) {
  try { await sendLive(state, { type: "release", holdId: state.hold.id }); } catch (err) { say(`Release failed: ${err.message}`); }
  state.hold = null;
  state.render();
}

async function book(state) {
  const paymentMethod = document.getElementById("payment-method").value;
  try {
    state.booking = await api("POST", "/v1/bookings", { holdId: state.hold.id, paymentMethod });
    state.render();
    while (current === state && state.booking.status === "pending") {
      await new Promise((r) => setTimeout(r, 700));
      state.booking = await api("GET", `/v1/bookings/${state.booking.id}`);
      state.render();
    }
    say(`Booking ${state.booking.status}.`);
  } catch (err) {
    say(`Booking failed: ${err.message}`);
  }
}

// ---- holds over the live socket: an auth frame, then requests named by a ref ----
// The ref is the request's idempotency key: a request cut off by a reconnect is sent again with the
// same ref once the new socket is authenticated, and the object answers it once.
function sendLive(state, frame) {
  return new Promise((resolve, reject) => {
    const ref = crypto.randomUUID();
    const entry = { frame: JSON.stringify({ ...frame, ref }), resolve, reject };
    entry.timer = setTimeout(() => {
      state.pending.delete(ref);
      reject(new Error("the live connection did not answer, try again"));
    }, 10_000);
    state.pending.set(ref, entry);
    if (state.authed) state.ws.send(entry.frame);
  });
}

function answer(state, msg) {
  if (msg.type === "auth") {
    state.authed = msg.ok;
    if (msg.ok) for (const p of state.pending.values()) state.ws.send(p.frame);
    else say("Your session ended: sign in again to hold seats.");
    return;
  }
  const p = state.pending.get(msg.ref);
  if (!p) return;
  state.pending.delete(msg.ref);
  clearTimeout(p.timer);
  if (msg.ok) return p.resolve(msg);
  const err = new Error(msg.error.message);
  err.code = msg.error.code;
  err.details = msg.error.details;
  p.reject(err);
}

// ---- live updates: snapshot + versioned deltas; a gap asks for a resync ----
function connect(state, live) {
  if (state.closed) return;
  const url = new URL(`/v1/events/${state.ev.id}/live`, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.onopen = () => {
    state.attempts = 0;
    live.textContent = "live";
    if (session.token) ws.send(JSON.stringify({ type: "auth", token: session.token }));
  };
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch { return; }
    if (msg.type === "snapshot") {
      state.version = msg.version;
      for (const s of msg.seats ?? []) {
        const seat = state.seats.get(s.id);
        if (seat) seat.status = s.status;
      }
      state.availability = msg.availability ?? state.availability;
    } else if (msg.type === "delta") {
      if (msg.version !== state.version + 1) {
        ws.send(JSON.stringify({ type: "resync" }));
        return;
      }
      state.version = msg.version;
      for (const c of msg.changes ?? []) {
        const seat = state.seats.get(c.id);
        if (seat) seat.status = c.status;
      }
      state.availability = msg.availability ?? state.availability;
    } else {
      answer(state, msg);
      return;
    }
    live.textContent = `live · version ${state.version}`;
    document.getElementById("seat-map")?.setAttribute("data-version", String(state.version));
    state.render();
  };
  ws.onclose = () => {
    state.authed = false;
    if (state.closed) return;
    // Exponential backoff with jitter, so a restarted object is not hit by every client at once.
    const delay = Math.min(30_000, 500 * 2 ** state.attempts) * (0.5 + Math.random() / 2);
    state.attempts += 1;
    live.textContent = `reconnecting in ${Math.round(delay / 100) / 10} s…`;
    state.reconnectTimer = setTimeout(() => connect(state, live), delay);
  };
}

// ---- routing ----
async function route() {
  teardown();
  if (location.hash === "#/tickets") return; // public/tickets.js renders it
  const m = /^#\/events\/([^/]+)$/.exec(location.hash);
  try {
    if (m) await showEvent(decodeURIComponent(m[1]));
    else await showList();
  } catch (err) {
    view.replaceChildren(el("p", {}, `Could not load: ${err.message}`));
  }
}
window.addEventListener("hashchange", route);
renderWho();
route();
