// A small hash router: `route("/events/:id", view)`; a view renders into <main> and may return a
// cleanup function, which runs before the next view (sockets closed, timers cleared).

const routes = [];
let cleanup = null;
let rendering = 0;

export function route(pattern, view, { title } = {}) {
  const names = [];
  const regex = new RegExp("^" + pattern.replace(/:([a-zA-Z]+)/g, (_, n) => { names.push(n); return "([^/]+)"; }) + "$");
  routes.push({ regex, names, view, title });
}

/** The current hash as a path and its query: "#/signin?next=/bookings" -> { path: "/signin", query }. */
export function current() {
  // Only "#/…" is a route; other fragments (the skip link's "#view") are ordinary in-page anchors.
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, qs] = raw.split("?");
  return { path, query: new URLSearchParams(qs ?? "") };
}

export function navigate(path) {
  if (location.hash === `#${path}`) render();
  else location.hash = path;
}

export async function render() {
  const ticket = ++rendering;
  if (cleanup) { try { cleanup(); } catch { /* a view's cleanup must not stop the next one */ } }
  cleanup = null;
  // Each render gets a fresh container: a view superseded while it awaited writes into a detached node.
  const main = document.getElementById("view");
  const view = document.createElement("div");
  main.replaceChildren(view);
  const { path, query } = current();
  const match = routes.map((r) => ({ r, m: r.regex.exec(path) })).find((x) => x.m);
  if (!match) {
    view.replaceChildren(Object.assign(document.createElement("h1"), { textContent: "Page not found" }));
    return;
  }
  const params = Object.fromEntries(match.r.names.map((n, i) => [n, decodeURIComponent(match.m[i + 1])]));
  main.setAttribute("aria-busy", "true");
  try {
    const result = await match.r.view({ params, query, view });
    if (ticket !== rendering) { if (typeof result === "function") result(); return; }
    if (typeof result === "function") cleanup = result;
  } catch (err) {
    if (ticket !== rendering) return;
    view.replaceChildren(Object.assign(document.createElement("h1"), { textContent: "Could not load this page" }), Object.assign(document.createElement("p"), { textContent: err.message }));
  } finally {
    if (ticket === rendering) main.removeAttribute("aria-busy");
  }
  // Screen readers hear the new page's title; keyboard users start from it.
  if (ticket !== rendering) return;
  const h1 = view.querySelector("h1");
  if (h1) {
    document.title = `${h1.textContent} · Evently`;
    h1.setAttribute("tabindex", "-1");
    if (document.activeElement === document.body || !view.contains(document.activeElement)) h1.focus({ preventScroll: true });
  }
}

export function start() {
  window.addEventListener("hashchange", () => { if (location.hash === "" || location.hash.startsWith("#/")) render(); });
  return render();
}
