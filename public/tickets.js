// "My tickets" (#/tickets, docs/tickets.md): the signed-in buyer's tickets with their QR codes.
// The QR image needs the bearer token, so it is fetched and shown through an object URL.
import { api, refresh, session } from "./api.js";
import { el } from "./dom.js";
import { navigate } from "./router.js";

async function qr(ticket, urls) {
  const img = el("img", { alt: `QR code of ticket ${ticket.id}`, width: "180", height: "180", class: "qr" });
  try {
    let res = await fetch(`/v1/tickets/${ticket.id}/qr.svg`, { headers: { authorization: `Bearer ${session.token}` } });
    if (res.status === 401 && (await refresh())) res = await fetch(`/v1/tickets/${ticket.id}/qr.svg`, { headers: { authorization: `Bearer ${session.token}` } });
    if (!res.ok) throw new Error(String(res.status));
    const url = URL.createObjectURL(await res.blob());
    urls.push(url);
    img.src = url;
  } catch {
    img.alt = "QR code unavailable";
  }
  return img;
}

export async function ticketsView({ view }) {
  if (!session.user) { navigate(`/signin?next=${encodeURIComponent("/tickets")}`); return; }
  const urls = [];
  const { data } = await api("GET", "/v1/tickets?limit=100");
  const events = new Map();
  await Promise.all([...new Set(data.map((t) => t.eventId))].map(async (id) => events.set(id, await api("GET", `/v1/events/${id}`).catch(() => null))));
  const items = await Promise.all(data.map(async (t) => el("li", { class: "ticket", "data-ticket": t.id, "data-status": t.status },
    el("h2", {}, events.get(t.eventId)?.name ?? "Event"),
    el("p", {}, `${t.seatId ? `Seat ${t.seatId}` : "General admission"} · ${t.holderName} · ${t.status === "valid" ? "✓ valid" : `✕ ${t.status}`}`),
    t.status === "valid" ? await qr(t, urls) : el("p", {}, "This ticket no longer scans."),
  )));
  view.replaceChildren(el("h1", {}, "My tickets"), data.length ? el("ul", { class: "cards tickets", "aria-label": "My tickets" }, items) : el("p", {}, "No tickets yet."));
  return () => { for (const u of urls) URL.revokeObjectURL(u); };
}
