// One event's page: what, where and when (on the venue's clock), the seat map with the stage side
// and a price legend, kept live over the event's socket; the checkout panel sits beside it.
import { api, session } from "./api.js";
import { renderCheckout } from "./checkout.js";
import { el, money, say, venueTime } from "./dom.js";
import { hooks } from "./hooks.js";
import { openLive } from "./live.js";

const STATUS_WORDS = { available: "available", held: "held", booked: "booked" };

function seatLabel(state, s) {
  const status = state.mine.has(s.id) ? (s.status === "booked" ? "booked by you" : "held by you") : STATUS_WORDS[s.status] ?? s.status;
  return `Section ${s.section}, row ${s.row}, seat ${s.number}, ${status}, ${money(s.priceCents, state.ev.currency)}`;
}

/** Groups of rows that share a price, per section: "Section A · rows 1–3 €80.00 · rows 4–10 €50.00". */
export function priceLegend(seats, currency) {
  const sections = new Map();
  for (const s of seats) {
    if (!sections.has(s.section)) sections.set(s.section, new Map());
    const rows = sections.get(s.section);
    if (!rows.has(s.row)) rows.set(s.row, new Set());
    rows.get(s.row).add(s.priceCents);
  }
  const out = [];
  for (const [section, rows] of sections) {
    const groups = [];
    for (const [row, prices] of rows) {
      const price = Math.min(...prices);
      const last = groups.at(-1);
      if (last && last.price === price) last.rows.push(row);
      else groups.push({ price, rows: [row] });
    }
    const parts = groups.map((g) => ({
      rows: g.rows.length === 1 ? `row ${g.rows[0]}` : `rows ${g.rows[0]}–${g.rows.at(-1)}`,
      price: money(g.price, currency),
    }));
    out.push({ section, parts: groups.length === 1 ? [{ rows: "all rows", price: parts[0].price }] : parts });
  }
  return out;
}

function buildMap(state) {
  const bySection = new Map();
  for (const s of state.seats.values()) {
    if (!bySection.has(s.section)) bySection.set(s.section, new Map());
    const rows = bySection.get(s.section);
    if (!rows.has(s.row)) rows.set(s.row, []);
    rows.get(s.row).push(s);
  }
  const first = [...state.seats.values()][0];
  state.focusSeat = first?.id ?? null;
  const sections = [];
  for (const [name, rows] of bySection) {
    const section = el("div", { class: "section", role: "group", "aria-labelledby": `sec-${name}` }, el("h3", { id: `sec-${name}` }, `Section ${name}`));
    for (const [label, seats] of rows) {
      seats.sort((a, b) => a.number - b.number);
      const row = el("div", { class: "row", role: "group", "aria-label": `Row ${label}` }, el("span", { class: "row-label", "aria-hidden": "true" }, label));
      for (const s of seats) {
        const button = el("button", { type: "button", class: "seat", "data-seat": s.id, tabindex: s.id === state.focusSeat ? "0" : "-1" });
        button.addEventListener("click", () => toggleSeat(state, s.id));
        button.addEventListener("keydown", moveFocus);
        button.addEventListener("focus", () => {
          if (state.focusSeat === s.id) return;
          state.map.querySelector(`[data-seat="${CSS.escape(state.focusSeat)}"]`)?.setAttribute("tabindex", "-1");
          button.setAttribute("tabindex", "0");
          state.focusSeat = s.id;
        });
        state.buttons.set(s.id, button);
        row.append(button);
      }
      section.append(row);
    }
    sections.push(section);
  }
  state.map.replaceChildren(...sections);
}

function paintSeats(state) {
  for (const [id, button] of state.buttons) {
    const s = state.seats.get(id);
    const mine = state.mine.has(id);
    const selectable = s.status === "available" && !state.hold;
    button.dataset.status = s.status;
    button.dataset.mine = String(mine);
    button.setAttribute("aria-pressed", String(state.selected.has(id)));
    button.setAttribute("aria-disabled", String(!selectable && !state.selected.has(id)));
    const label = seatLabel(state, s);
    button.setAttribute("aria-label", label);
    button.title = label;
  }
  state.map.dataset.version = String(state.version);
}

// Arrow keys move between seats like a spreadsheet grid; Home/End jump to a row's ends. Only one
// seat is in the tab order (the last one focused), so Tab leaves the map in one step.
function moveFocus(e) {
  const btn = e.currentTarget;
  const row = btn.parentElement;
  const seats = [...row.querySelectorAll(".seat")];
  const i = seats.indexOf(btn);
  let target = null;
  if (e.key === "ArrowRight") target = seats[i + 1];
  else if (e.key === "ArrowLeft") target = seats[i - 1];
  else if (e.key === "Home") target = seats[0];
  else if (e.key === "End") target = seats.at(-1);
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
  if (!session.user) { say("Sign in to choose seats."); return; }
  if (state.hold) { say("You already hold seats: book or release them first."); return; }
  if (state.selected.has(id)) state.selected.delete(id);
  else if (s?.status !== "available") { say(`Seat ${id} is ${s?.status ?? "unknown"}.`); return; }
  else if (state.selected.size >= state.ev.maxSeatsPerUser) { say(`At most ${state.ev.maxSeatsPerUser} seats per order.`); return; }
  else state.selected.add(id);
  state.render();
}

export async function eventView({ params, view }) {
  const [ev, seatsRes] = await Promise.all([api("GET", `/v1/events/${encodeURIComponent(params.id)}`), api("GET", `/v1/events/${encodeURIComponent(params.id)}/seats`)]);
  const state = {
    ev, version: seatsRes.version, seats: new Map(), selected: new Set(), mine: new Set(), hold: null, booking: null,
    availability: seatsRes.availability ?? ev.availability, buttons: new Map(), focusSeat: null, live: null, closed: false,
  };
  for (const s of seatsRes.seats ?? []) state.seats.set(s.id, { ...s });

  const time = venueTime(ev.startsAt, ev.venue.timezone);
  const localTime = new Date(ev.startsAt).toLocaleString([], { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  const avail = el("p", { id: "availability", "aria-live": "polite" });
  const liveStatus = el("span", { class: "live", id: "live-status" }, "connecting…");
  state.map = el("div", { id: "seat-map", class: "seat-map", role: "group", "aria-label": "Seat map: arrow keys move between seats, Enter or Space selects" });
  const panel = el("aside", { id: "checkout", class: "panel", "aria-label": "Your order" });
  const extras = el("div", { id: "event-extras" });
  const reserved = ev.seating === "reserved";

  view.replaceChildren(...[
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "← All events")),
    el("h1", {}, ev.name),
    el("p", { class: "where" }, `${ev.venue.name}, ${ev.venue.address}, ${ev.venue.city}`),
    el("p", { class: "when" }, el("time", { datetime: ev.startsAtLocal }, time.when), ` ${time.zone} (venue time)`,
      localTime.includes(time.when) ? null : el("small", {}, ` · your time: ${localTime}`)),
    ev.status === "cancelled" ? el("p", { class: "notice", role: "alert" }, "⊘ This event was cancelled. Every booking is refunded.") : null,
    ev.description ? el("p", { class: "description" }, ev.description) : null,
    el("p", { class: "status-line" }, avail, " ", liveStatus),
    el("div", { class: "event-layout" },
      reserved
        ? el("section", { class: "map-area", "aria-labelledby": "map-title" },
            el("h2", { id: "map-title" }, "Choose your seats"),
            el("ul", { class: "legend", "aria-label": "What the seats show" },
              el("li", { "data-key": "available" }, el("span", { class: "swatch", "aria-hidden": "true" }), "Available"),
              el("li", { "data-key": "selected" }, el("span", { class: "swatch", "aria-hidden": "true" }, "✓"), "Selected"),
              el("li", { "data-key": "mine" }, el("span", { class: "swatch", "aria-hidden": "true" }, "★"), "Yours"),
              el("li", { "data-key": "held" }, el("span", { class: "swatch", "aria-hidden": "true" }, "•"), "Held by someone"),
              el("li", { "data-key": "booked" }, el("span", { class: "swatch", "aria-hidden": "true" }, "×"), "Booked")),
            el("ul", { class: "price-legend", id: "price-legend", "aria-label": "Prices" },
              priceLegend(state.seats.values(), ev.currency).map((g) =>
                el("li", {}, el("strong", {}, `Section ${g.section}`), g.parts.map((p) => ` · ${p.rows} ${p.price}`)))),
            el("div", { class: "map-scroll" },
              el("div", { class: "map-inner" },
                el("div", { class: "stage", id: "stage" }, el("span", { "aria-hidden": "true" }, "▼ "), "Stage", el("span", { class: "visually-hidden" }, ": the first row of each section is nearest")),
                state.map)))
        : null,
      panel,
    ),
    extras,
  ].filter(Boolean));

  state.render = () => {
    if (state.closed) return;
    const a = state.availability;
    if (a) avail.textContent = `${a.available} of ${a.capacity} available · ${a.held} held · ${a.booked} booked`;
    if (reserved) paintSeats(state);
    renderCheckout(state, panel);
  };
  if (reserved) buildMap(state);
  state.render();

  if (ev.status === "published") {
    state.live = openLive(ev.id, {
      onStatus: (text) => { liveStatus.textContent = text; },
      onAuthLost: () => say("Your session ended: sign in again to hold seats.", "error"),
      onState: ({ seats, availability, version }) => {
        const lost = [];
        for (const c of seats) {
          const seat = state.seats.get(c.id);
          if (seat) seat.status = c.status;
          if (c.status !== "available" && state.selected.delete(c.id)) lost.push(c.id);
        }
        if (lost.length) say(`Someone else just took ${lost.join(", ")}; ${lost.length === 1 ? "it was" : "they were"} removed from your selection.`, "error");
        state.availability = availability ?? state.availability;
        state.version = version;
        liveStatus.textContent = `live · version ${version}`;
        state.render();
      },
    });
  } else liveStatus.textContent = "";
  const countdown = setInterval(() => state.tick?.(), 1000);
  const extraCleanups = hooks.eventPanels.map((fn) => fn({ event: ev, state }, extras)).filter((f) => typeof f === "function");

  return () => {
    state.closed = true;
    clearInterval(countdown);
    state.live?.close();
    for (const f of extraCleanups) f();
  };
}
