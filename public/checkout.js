// The order panel of an event page: the selected seats and their total (or a ticket quantity), the
// hold with its countdown, the sandbox card choice, the booking's progress while its saga settles,
// and the result. When nothing is left, the waitlist instead.
import { api, session } from "./api.js";
import { badge, el, money, say } from "./dom.js";
import { hooks } from "./hooks.js";
import { current } from "./router.js";
import { mountPaymentElement, paysWithStripe } from "./stripe-pay.js";

export const CARDS = [
  { value: "pm_card_ok", label: "Visa ending 4242", note: "sandbox: succeeds" },
  { value: "pm_card_slow", label: "Mastercard ending 4444", note: "sandbox: answers after a few seconds" },
  { value: "pm_card_declined", label: "Visa ending 0002", note: "sandbox: declined" },
];

const STATUS_TEXT = { pending: "Confirming your booking…", confirmed: "Booking confirmed", failed: "Booking failed", cancelled: "Booking cancelled" };

function countdownText(expiresAt) {
  const left = Math.max(0, Math.round((Date.parse(expiresAt) - Date.now()) / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}

/** Re-renders only when what the panel shows changed, so a live delta never steals the focus. */
export function renderCheckout(state, panel) {
  const key = JSON.stringify([
    !!session.user, state.hold?.id, state.booking?.status, [...state.selected], state.ev.seating === "general" && state.availability?.available,
    (state.availability?.available ?? 1) <= 0, state.waitlist?.status, state.waitlist?.position, state.busy, !!state.stripe,
  ]);
  if (panel.dataset.key === key) return;
  panel.dataset.key = key;
  const had = panel.contains(document.activeElement) ? document.activeElement.id : null;
  panel.replaceChildren(...content(state).filter(Boolean));
  if (had) document.getElementById(had)?.focus();
  state.tick = () => {
    const node = document.getElementById("hold-countdown");
    if (node && state.hold && !state.booking) {
      node.textContent = countdownText(state.hold.expiresAt);
      if (Date.parse(state.hold.expiresAt) <= Date.now()) expire(state);
    }
  };
}

function content(state) {
  const { ev } = state;
  const out = [el("h2", {}, "Your order")];
  if (ev.status !== "published") return [...out, el("p", {}, "Tickets are not on sale for this event.")];
  if (!session.user) {
    const next = encodeURIComponent(current().path);
    return [...out, el("p", {}, el("a", { href: `#/signin?next=${next}`, id: "checkout-signin" }, "Sign in"), " or ", el("a", { href: `#/signup?next=${next}` }, "create an account"), " to choose seats and book.")];
  }
  if (state.booking) return [...out, ...bookingResult(state)];
  if (state.hold) return [...out, ...holdPanel(state)];
  if ((state.availability?.available ?? 1) <= 0 && state.selected.size === 0) return [...out, ...waitlistPanel(state)];
  return [...out, ...selection(state)];
}

function selection(state) {
  const { ev } = state;
  if (ev.seating === "general") {
    state.quantity ??= 1;
    const max = Math.min(ev.maxSeatsPerUser, state.availability?.available ?? ev.maxSeatsPerUser);
    const total = el("p", { id: "order-total", class: "total" }, `Total ${money(ev.priceCents * state.quantity, ev.currency)}`);
    const input = el("input", { id: "quantity", type: "number", min: "1", max: String(max), value: String(state.quantity), inputmode: "numeric" });
    input.addEventListener("input", () => {
      state.quantity = Math.max(1, Math.min(max, Number(input.value) || 1));
      total.textContent = `Total ${money(ev.priceCents * state.quantity, ev.currency)}`;
    });
    return [
      el("p", {}, `Standing tickets, ${money(ev.priceCents, ev.currency)} each.`),
      el("div", { class: "field" }, el("label", { for: "quantity" }, "Tickets"), input),
      total,
      ...hooks.orderControls.map((fn) => fn(state, el)),
      el("button", { type: "button", id: "hold", class: "primary", disabled: state.busy, onclick: () => hold(state) }, "Hold tickets"),
    ];
  }
  const chosen = [...state.selected].map((id) => state.seats.get(id)).filter(Boolean);
  const total = chosen.reduce((sum, s) => sum + s.priceCents, 0);
  return [
    chosen.length
      ? el("ul", { id: "selected-seats", class: "lines", "aria-label": "Selected seats" },
          chosen.map((s) => el("li", {}, el("span", {}, `Section ${s.section}, row ${s.row}, seat ${s.number}`), el("span", {}, money(s.priceCents, state.ev.currency)))))
      : el("p", { id: "selected-seats" }, "No seats selected yet: pick them on the map."),
    el("p", { id: "order-total", class: "total" }, `Total ${money(total, state.ev.currency)}`),
    ...hooks.orderControls.map((fn) => fn(state, el)),
    el("button", { type: "button", id: "hold", class: "primary", disabled: chosen.length === 0 || state.busy, onclick: () => hold(state) },
      chosen.length === 0 ? "Hold seats" : chosen.length === 1 ? "Hold 1 seat" : `Hold ${chosen.length} seats`),
    chosen.length ? el("button", { type: "button", id: "clear", onclick: () => { state.selected.clear(); state.render(); } }, "Clear") : null,
  ];
}

function holdPanel(state) {
  const h = state.hold;
  state.card ??= CARDS[0].value;
  return [
    el("p", {}, badge("pending", "Held for you"), " · expires in ", el("span", { class: "countdown", id: "hold-countdown", role: "timer" }, countdownText(h.expiresAt))),
    el("ul", { class: "lines", id: "held-seats", "aria-label": "Held" },
      h.seats?.length
        ? h.seats.map((s) => el("li", {}, el("span", {}, s.id), el("span", {}, money(s.priceCents, state.ev.currency))))
        : el("li", {}, el("span", {}, `${h.quantity} standing ticket${h.quantity === 1 ? "" : "s"}`), el("span", {}, money(h.totalCents, state.ev.currency)))),
    el("p", { class: "total", id: "order-total" }, `Total ${money(h.totalCents, state.ev.currency)}`),
    el("fieldset", { class: "cards-choice", id: "payment-method" },
      el("legend", {}, "Pay with (sandbox cards, nothing is charged)"),
      CARDS.map((c) => el("label", {},
        el("input", { type: "radio", name: "card", value: c.value, checked: state.card === c.value, onchange: () => { state.card = c.value; } }),
        ` ${c.label} `, el("small", {}, `(${c.note})`)))),
    el("button", { type: "button", id: "book", class: "primary", disabled: state.busy, onclick: () => book(state) }, `Pay ${money(h.totalCents, state.ev.currency)} and book`),
    el("button", { type: "button", id: "release", disabled: state.busy, onclick: () => release(state) }, "Release"),
  ];
}

function bookingResult(state) {
  const b = state.booking;
  const head = el("p", { id: "booking-status", "data-status": b.status, role: "status" }, badge(b.status, STATUS_TEXT[b.status] ?? b.status));
  if (b.status === "pending" && state.stripe) {
    // Stripe: the buyer pays in Stripe's Payment Element; the booking settles once Stripe says so.
    return [
      head,
      state.stripe.node,
      el("button", { type: "button", id: "stripe-pay", class: "primary", disabled: !state.stripe.pay, onclick: (e) => payWithStripe(state, e.currentTarget) }, `Pay ${money(b.totalCents, b.currency)}`),
      el("p", {}, "Your card is authorized now and charged once your seats are confirmed."),
    ];
  }
  if (b.status === "pending") {
    return [
      head,
      el("progress", { id: "booking-progress", "aria-label": "Booking in progress" }),
      el("ol", { class: "steps" },
        el("li", { "data-done": "true" }, "✓ Seats held"),
        el("li", {}, "… Charging your card"),
        el("li", {}, "… Confirming your seats")),
      el("p", {}, "This takes a few seconds; you can stay on this page."),
    ];
  }
  const again = el("button", { type: "button", id: "book-again", onclick: () => { state.booking = null; state.hold = null; state.render(); } }, "Choose more seats");
  if (b.status === "confirmed") {
    return [
      head,
      el("p", {}, `${b.seats.length ? b.seats.map((s) => s.id).join(", ") : `${b.quantity} ticket(s)`} · ${money(b.totalCents, b.currency)} paid`),
      el("p", {}, "Reference ", el("code", {}, b.id.slice(0, 8)), ". ", el("a", { href: "#/bookings", id: "to-bookings" }, "See it in My bookings")),
      again,
    ];
  }
  // failureReason is the API's one plain sentence for the buyer (src/services/booking-failures.ts).
  return [head, el("p", { id: "booking-reason" }, b.failureReason ?? "The booking did not go through."), again];
}

function waitlistPanel(state) {
  const w = state.waitlist;
  if (w === undefined) {
    state.waitlist = null;
    api("GET", `/v1/events/${state.ev.id}/waitlist/me`).then((e) => { state.waitlist = e; state.render(); }).catch(() => {});
  }
  const out = [el("p", {}, badge("soldout", "Sold out"), " Seats can come back: the waitlist offers them in order of arrival.")];
  if (w && (w.status === "waiting" || w.status === "offered")) {
    out.push(el("p", { id: "waitlist-status" }, w.status === "offered" ? "Seats are offered to you now." : `You are number ${w.position} on the waitlist for ${w.quantity} ticket(s).`));
    if (w.status === "offered" && w.holdId) out.push(el("button", { type: "button", class: "primary", onclick: () => takeOffer(state, w.holdId) }, "Take the offered seats"));
    out.push(el("button", { type: "button", id: "waitlist-leave", onclick: () => leaveWaitlist(state) }, "Leave the waitlist"));
    return out;
  }
  state.waitQuantity ??= 1;
  const input = el("input", { id: "waitlist-quantity", type: "number", min: "1", max: String(state.ev.maxSeatsPerUser), value: String(state.waitQuantity), oninput: (e) => { state.waitQuantity = Number(e.target.value) || 1; } });
  out.push(el("div", { class: "field" }, el("label", { for: "waitlist-quantity" }, "Tickets wanted"), input),
    el("button", { type: "button", id: "waitlist-join", class: "primary", onclick: () => joinWaitlist(state) }, "Join the waitlist"));
  return out;
}

async function busy(state, fn) {
  state.busy = true;
  state.render();
  try { await fn(); } finally { state.busy = false; state.render(); }
}

async function hold(state) {
  await busy(state, async () => {
    let frame = state.ev.seating === "reserved" ? { type: "hold", seatIds: [...state.selected] } : { type: "hold", quantity: state.quantity ?? 1 };
    try {
      for (const fn of hooks.holdFrame) frame = await fn({ event: state.ev, state }, frame);
      const reply = await state.live.send(frame);
      state.hold = reply.hold;
      for (const s of reply.hold.seats ?? []) state.mine.add(s.id);
      state.selected.clear();
      say(`Held until ${new Date(reply.hold.expiresAt).toLocaleTimeString()}. Choose a card and book before the countdown ends.`);
    } catch (err) {
      const taken = err.details?.seatIds ?? [];
      for (const id of taken) state.selected.delete(id);
      say(err.code === "SEAT_UNAVAILABLE" ? `Someone was faster: ${taken.join(", ")} ${taken.length === 1 ? "is" : "are"} no longer free.` : `Could not hold: ${err.message}`, "error");
      for (const fn of hooks.holdRefused) fn({ event: state.ev, state }, err);
    }
  });
}

async function release(state) {
  await busy(state, async () => {
    try {
      await state.live.send({ type: "release", holdId: state.hold.id });
      say("Released.");
    } catch (err) {
      say(`Release failed: ${err.message}`, "error");
    }
    for (const s of state.hold?.seats ?? []) state.mine.delete(s.id);
    state.hold = null;
  });
}

function expire(state) {
  for (const s of state.hold.seats ?? []) state.mine.delete(s.id);
  state.hold = null;
  say("Your hold expired and the seats went back on sale.", "error");
  state.render();
}

async function book(state) {
  let payment;
  try {
    ({ payment, ...state.booking } = await api("POST", "/v1/bookings", { holdId: state.hold.id, paymentMethod: state.card ?? CARDS[0].value }));
  } catch (err) {
    say(`Booking failed: ${err.message}`, "error");
    return;
  }
  if (paysWithStripe(payment)) {
    state.stripe = { node: el("div", { id: "stripe-payment" }), pay: null };
    say("Enter your card to pay.");
    mountPaymentElement(payment, state.stripe.node).then(
      (pay) => {
        if (!state.stripe) return;
        state.stripe.pay = pay;
        const button = document.getElementById("stripe-pay");
        if (button) button.disabled = false;
      },
      (err) => say(`The payment form could not be loaded: ${err.message}`, "error"),
    );
  } else {
    say("Booking received: confirming…");
  }
  state.render();
  await settled(state);
  state.stripe = null;
  if (state.closed) return;
  if (state.booking.status !== "confirmed") for (const s of state.hold?.seats ?? []) state.mine.delete(s.id);
  say(state.booking.status === "confirmed" ? "Booking confirmed. Enjoy the show!" : "The booking did not go through.", state.booking.status === "confirmed" ? "info" : "error");
  state.render();
}

/** Stripe: confirms the payment in the Payment Element; the booking's outcome comes as for the sandbox. */
async function payWithStripe(state, button) {
  if (!state.stripe?.pay) return;
  button.disabled = true;
  try {
    await state.stripe.pay();
    say("Payment authorized: confirming your seats…");
  } catch (err) {
    say(`Payment failed: ${err.message}`, "error");
    button.disabled = false;
  }
}

/** While the live socket is signed in, one read of the booking after this long without its `booking` frame (a push may be lost). */
const SAFETY_NET_MS = 10_000;
/** How often the booking is read while no socket can tell its outcome. */
const POLL_MS = 3_000;

/**
 * Resolves once the booking has left "pending". The outcome comes as a `booking` frame on the
 * event's live socket (docs/web-client.md); reading the booking over HTTP is only the fallback:
 * every POLL_MS while the socket is down, once when it is back (a frame may have passed meanwhile),
 * and once after SAFETY_NET_MS of silence while it is up. A hundred buyers polling every 600 ms
 * used to starve the saga they waited for.
 */
function settled(state) {
  const id = state.booking.id;
  return new Promise((resolve) => {
    let timer = null;
    let done = false;
    let offBooking = () => {};
    let offChannel = () => {};
    const finish = () => {
      done = true;
      clearTimeout(timer);
      offBooking();
      offChannel();
      resolve();
    };
    const apply = ({ status, failureReason }) => {
      if (state.booking.id !== id || state.booking.status !== "pending") return;
      state.booking = { ...state.booking, status, failureReason: failureReason ?? null };
      if (status !== "pending") finish();
    };
    const read = async () => {
      try { apply(await api("GET", `/v1/bookings/${id}`)); } catch { /* the next read, or a frame, tells */ }
    };
    const schedule = () => {
      clearTimeout(timer);
      if (done) return;
      if (state.closed) return finish();
      timer = setTimeout(async () => {
        await read();
        schedule();
      }, state.live?.pushOpen ? SAFETY_NET_MS : POLL_MS);
    };
    if (!state.live) return schedule();
    offChannel = state.live.watchChannel((open) => {
      schedule();
      if (open) read();
    });
    // Last: it replays a frame that came before the POST answered, which may finish at once.
    offBooking = state.live.watchBooking(id, (frame) => {
      apply(frame);
      schedule();
    });
    if (done) offBooking();
    else schedule();
  });
}

async function takeOffer(state, holdId) {
  try {
    state.hold = await api("GET", `/v1/holds/${holdId}`);
    for (const s of state.hold.seats ?? []) state.mine.add(s.id);
    state.render();
  } catch (err) {
    say(`The offer is no longer there: ${err.message}`, "error");
  }
}

async function joinWaitlist(state) {
  try {
    state.waitlist = await api("POST", `/v1/events/${state.ev.id}/waitlist`, { quantity: state.waitQuantity ?? 1 });
    say(`You are number ${state.waitlist.position} on the waitlist.`);
  } catch (err) {
    say(err.code === "SEATS_AVAILABLE" ? "Seats are available right now: hold them instead." : `Could not join: ${err.message}`, "error");
  }
  state.render();
}

async function leaveWaitlist(state) {
  try { await api("DELETE", `/v1/events/${state.ev.id}/waitlist/me`); } catch (err) { say(`Could not leave: ${err.message}`, "error"); }
  state.waitlist = undefined;
  state.render();
}
