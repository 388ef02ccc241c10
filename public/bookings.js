// "My bookings": the signed-in buyer's bookings, newest first, with the event on the venue's clock,
// the seats and total, a status in words and icon, and cancellation (confirmed in two steps).
import { api, session } from "./api.js";
import { badge, el, money, say, venueTime } from "./dom.js";
import { hooks } from "./hooks.js";
import { navigate } from "./router.js";

const STATUS = {
  pending: ["pending", "Confirming…"],
  confirmed: ["confirmed", "Confirmed"],
  failed: ["failed", "Failed"],
  cancelled: ["cancelled", "Cancelled · refunded"],
};

function row(b, ev, refresh) {
  const [kind, text] = STATUS[b.status] ?? ["pending", b.status];
  const when = ev ? venueTime(ev.startsAt, ev.venue.timezone) : null;
  const actions = el("div", { class: "actions" });
  if (b.status === "confirmed" && ev?.status === "published") {
    const ask = el("button", { type: "button", class: "cancel", "data-booking": b.id }, "Cancel booking");
    ask.addEventListener("click", () => {
      // Two steps instead of window.confirm: the second button is announced and reachable by keyboard.
      const yes = el("button", { type: "button", class: "danger confirm-cancel", "data-booking": b.id }, `Yes, cancel and refund ${money(b.totalCents, b.currency)}`);
      const no = el("button", { type: "button" }, "Keep it");
      no.addEventListener("click", () => { actions.replaceChildren(ask); ask.focus(); });
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        try {
          await api("POST", `/v1/bookings/${b.id}/cancel`);
          say("Booking cancelled: the refund is on its way.");
          await refresh(b.id);
        } catch (err) {
          yes.disabled = false;
          say(`Could not cancel: ${err.message}`, "error");
        }
      });
      actions.replaceChildren(yes, " ", no);
      yes.focus();
    });
    actions.append(ask);
  }
  const headingId = `bk-${b.id}`;
  const item = el("li", { class: "card booking", "data-booking": b.id, "data-status": b.status },
    el("article", { "aria-labelledby": headingId },
      el("h2", { id: headingId }, ev ? el("a", { href: `#/events/${ev.id}` }, ev.name) : "An event"),
      ev ? el("p", {}, `${ev.venue.name} · ${ev.venue.city} · `, el("time", { datetime: ev.startsAtLocal }, when.when), ` ${when.zone}`) : null,
      el("p", { class: "booking-status" }, badge(kind, text)),
      el("p", {}, `${b.seats.length ? b.seats.map((s) => s.id).join(", ") : `${b.quantity} standing ticket${b.quantity === 1 ? "" : "s"}`} · ${money(b.totalCents, b.currency)}`),
      b.status === "failed" && b.failureReason ? el("p", { class: "muted" }, b.failureReason) : null,
      ev?.status === "cancelled" ? el("p", { class: "muted" }, "⊘ The organizer cancelled this event.") : null,
      actions,
    ),
  );
  for (const fn of hooks.bookingDetails) fn(b, item.querySelector("article"));
  return item;
}

export async function bookingsView({ view }) {
  if (!session.user) { navigate(`/signin?next=${encodeURIComponent("/bookings")}`); return; }
  const events = new Map();
  // After a cancellation the list is redrawn; the focus goes to that booking's new status.
  const load = async (focusId) => {
    const { data } = await api("GET", "/v1/bookings?limit=50");
    const ids = [...new Set(data.map((b) => b.eventId))].filter((id) => !events.has(id));
    await Promise.all(ids.map(async (id) => events.set(id, await api("GET", `/v1/events/${id}`).catch(() => null))));
    const list = el("ul", { class: "cards", id: "booking-list" }, data.map((b) => row(b, events.get(b.eventId), load)));
    view.replaceChildren(el("h1", {}, "My bookings"), data.length ? list : el("p", {}, "No bookings yet. ", el("a", { href: "#/" }, "Find an event")));
    const status = focusId && view.querySelector(`.booking[data-booking="${CSS.escape(focusId)}"] .booking-status`);
    if (status) { status.setAttribute("tabindex", "-1"); status.focus(); }
  };
  view.replaceChildren(el("h1", {}, "My bookings"), el("p", {}, "Loading…"));
  await load();
}
