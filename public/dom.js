// Small DOM helpers shared by the views: element builder, money, dates on the venue's clock, and the
// page's one live region for messages.

/** `el("button", { type: "button", onclick }, "Text", child)`; false/null attributes are left out. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** Minor units to a price: 4500 EUR -> "€45.00" (currencies with other exponents use theirs). */
export function money(cents, currency = "EUR") {
  const f = new Intl.NumberFormat("en", { style: "currency", currency });
  const digits = f.resolvedOptions().maximumFractionDigits;
  return f.format(cents / 10 ** digits);
}

/** "Sat 5 Dec 2026, 21:00" as the venue's clock shows it, and whose clock: "Lisbon time". */
export function venueTime(iso, timeZone) {
  const at = new Date(iso);
  const when = new Intl.DateTimeFormat("en-GB", { timeZone, weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" }).format(at);
  // Abbreviations are uneven across zones ("CST" but "GMT+1"); the zone's city reads the same everywhere.
  const zone = `${timeZone.split("/").pop().replace(/_/g, " ")} time`;
  return { when, zone, text: `${when} ${zone}` };
}

const flashNode = () => document.getElementById("flash");

/** Tells the user something (read out by screen readers); `kind` "error" shows it as an error. */
export function say(text, kind = "info") {
  const node = flashNode();
  node.textContent = text;
  node.dataset.kind = kind;
}

/** "3 left", "Sold out", … with an icon, so a status never rests on colour alone. */
export function badge(kind, text) {
  const icons = { available: "●", few: "▲", soldout: "✕", waitlist: "≡", cancelled: "⊘", pending: "…", confirmed: "✓", failed: "✕" };
  return el("span", { class: `badge badge-${kind}` }, el("span", { "aria-hidden": "true" }, icons[kind] ?? "•"), " ", text);
}
