// "My tickets" (#/tickets): the signed-in buyer's tickets with their QR codes. A module of its own
// beside app.js; app.js leaves the #/tickets route to it (one line in its route()).
// The QR image needs the bearer token, so it is fetched and shown through an object URL.

const view = document.getElementById("view");
const token = () => sessionStorage.getItem("evently.token");
const urls = [];

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

async function get(path) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token()}` } });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res;
}

async function qr(ticket) {
  const img = el("img", { alt: `QR code of ticket ${ticket.id}`, width: "180", height: "180", class: "qr" });
  try {
    const url = URL.createObjectURL(await (await get(`/v1/tickets/${ticket.id}/qr.svg`)).blob());
    urls.push(url);
    img.src = url;
  } catch {
    img.alt = "QR code unavailable";
  }
  return img;
}

async function showTickets() {
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  if (!token()) {
    view.replaceChildren(el("p", {}, "Sign in to see your tickets."));
    return;
  }
  const { data } = await (await get("/v1/tickets?limit=100")).json();
  const list = el("ul", { class: "tickets", "aria-label": "My tickets" });
  for (const t of data) {
    const what = t.seatId ? `Seat ${t.seatId}` : "General admission";
    list.append(
      el("li", { "data-ticket": t.id, "data-status": t.status },
        el("h3", {}, what),
        el("p", {}, `${t.holderName} · event ${t.eventId.slice(0, 8)} · ${t.status}`),
        t.status === "valid" ? await qr(t) : el("p", {}, "This ticket no longer scans."),
      ),
    );
  }
  view.replaceChildren(el("h2", {}, "My tickets"), data.length ? list : el("p", {}, "No tickets yet."));
}

function onRoute() {
  if (location.hash !== "#/tickets") return;
  showTickets().catch((err) => view.replaceChildren(el("p", {}, `Could not load tickets: ${err.message}`)));
}
window.addEventListener("hashchange", onRoute);
onRoute();
