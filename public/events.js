// The event list: one card per upcoming event with venue, city, the date on the venue's clock,
// the cheapest ticket and how many are left.
import { api } from "./api.js";
import { badge, el, money, venueTime } from "./dom.js";

/** A card's availability: "12 left", "Sold out", "Waitlist · 3 waiting", … (kind picks the icon). */
export function availabilityOf(ev) {
  const a = ev.availability;
  if (ev.status === "cancelled") return { kind: "cancelled", text: "Cancelled" };
  if (!a) return { kind: "available", text: "On sale" };
  if (a.available <= 0) {
    const waiting = ev.waitlist?.waiting ?? 0;
    return waiting > 0 ? { kind: "waitlist", text: `Waitlist · ${waiting} waiting` } : { kind: "soldout", text: "Sold out" };
  }
  if (a.available <= Math.max(10, Math.floor(a.capacity / 10))) return { kind: "few", text: `${a.available} left` };
  return { kind: "available", text: `${a.available} available` };
}

function card(ev) {
  const time = venueTime(ev.startsAt, ev.timezone);
  const avail = availabilityOf(ev);
  const headingId = `ev-${ev.id}`;
  return el("li", { class: "card", "data-event": ev.id, "data-availability": avail.kind },
    el("article", { "aria-labelledby": headingId },
      el("h2", { id: headingId }, el("a", { href: `#/events/${ev.id}` }, ev.name)),
      el("p", { class: "card-where" }, `${ev.venueName} · ${ev.city}`),
      el("p", { class: "card-when" }, el("time", { datetime: ev.startsAtLocal }, time.when), ` ${time.zone}`),
      el("p", { class: "card-meta" },
        el("span", { class: "price-from" }, `from ${money(ev.priceFromCents ?? ev.priceCents, ev.currency)}`),
        " · ",
        ev.seating === "general" ? "standing" : "reserved seats",
      ),
      el("p", { class: "card-availability" }, badge(avail.kind, avail.text)),
    ),
  );
}

export async function eventListView({ view }) {
  view.replaceChildren(el("h1", {}, "Upcoming events"), el("p", {}, "Loading…"));
  const { data } = await api("GET", "/v1/events?limit=50");
  view.replaceChildren(
    el("h1", {}, "Upcoming events"),
    data.length ? el("ul", { class: "cards", id: "event-list" }, data.map(card)) : el("p", {}, "No upcoming events."),
  );
}
