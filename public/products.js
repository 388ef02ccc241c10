// Ticket types and vouchers on the event page (docs/products.md): a type per selected seat (or per
// general-admission order) and a voucher code. Kept apart from app.js; its hook there is two calls:
// `productControls(state, el)` appended to the hold panel, and `typedHoldBody(state, body)` on the
// hold body before it is sent.

/** Loads the event's types (with the voucher's hidden ones once a code is entered) into state.products. */
export async function loadTicketTypes(state) {
  const p = (state.products ??= { types: [], bySeat: new Map(), typeId: "tt_default", voucher: "" });
  const q = p.voucher ? `?voucher=${encodeURIComponent(p.voucher)}` : "";
  try {
    const res = await fetch(`/v1/events/${state.ev.id}/ticket-types${q}`);
    if (res.ok) p.types = (await res.json()).data;
  } catch {
    // Without the list the page still sells the default type, as before ticket types existed.
  }
  state.render?.();
}

const label = (t, currency) =>
  `${t.name}${t.priceCents === null ? "" : ` · ${new Intl.NumberFormat("en", { style: "currency", currency }).format(t.priceCents / 100)}`}${t.available === 0 ? " (sold out)" : ""}`;

function typeSelect(el, types, value, currency, onchange) {
  return el("select", { onchange: (e) => onchange(e.target.value) }, ...types.map((t) => el("option", { value: t.id, selected: t.id === value, disabled: t.available === 0 }, label(t, currency))));
}

/** The controls: a type per selected seat (reserved) or one type (general admission), and a voucher field. */
export function productControls(state, el) {
  const p = state.products;
  if (!p) {
    void loadTicketTypes(state);
    return null;
  }
  const currency = state.ev.currency ?? "EUR";
  const types = p.types.length ? p.types : [{ id: "tt_default", name: "Standard", priceCents: null, available: null }];
  const rows = [];
  if (state.ev.seating === "reserved") {
    // One type on sale: nothing to choose per seat.
    if (types.length > 1) for (const id of state.selected) {
      rows.push(el("label", { class: "ticket-type" }, `${id} `, typeSelect(el, types, p.bySeat.get(id) ?? "tt_default", currency, (v) => p.bySeat.set(id, v))));
    }
  } else if (types.length > 1) {
    rows.push(el("label", { class: "ticket-type" }, "Ticket type ", typeSelect(el, types, p.typeId, currency, (v) => (p.typeId = v))));
  }
  const voucher = el("input", { id: "voucher", value: p.voucher, placeholder: "Voucher code", maxlength: "64", "aria-label": "Voucher code" });
  const apply = el("button", { type: "button", onclick: () => { p.voucher = voucher.value.trim(); void loadTicketTypes(state); } }, "Apply");
  return el("div", { class: "products" }, ...rows, el("span", {}, voucher, " ", apply));
}

/** `{seatIds}` / `{quantity}` become `{seats:[{id,ticketTypeId}]}` / `{items:[…]}` with the voucher, when any was chosen. */
export function typedHoldBody(state, body) {
  const p = state.products;
  if (!p) return body;
  const voucher = p.voucher ? { voucher: p.voucher } : {};
  if (body.seatIds) {
    const typed = body.seatIds.some((id) => (p.bySeat.get(id) ?? "tt_default") !== "tt_default");
    if (!typed) return { ...body, ...voucher };
    return { seats: body.seatIds.map((id) => ({ id, ticketTypeId: p.bySeat.get(id) ?? "tt_default" })), ...voucher };
  }
  if (p.typeId === "tt_default") return { ...body, ...voucher };
  return { items: [{ ticketTypeId: p.typeId, quantity: body.quantity }], ...voucher };
}
