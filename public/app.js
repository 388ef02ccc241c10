// Evently's web page: plain ES modules, no build step (docs/web-client.md). This file only wires
// them: the routes, the header, and the feature modules that plug into hooks.js.
import { session } from "./api.js";
import { renderAccount, signInView, signUpView } from "./auth.js";
import { bookingsView } from "./bookings.js";
import { say } from "./dom.js";
import { eventListView } from "./events.js";
import { hooks } from "./hooks.js";
import { orgsView, takeInviteLink } from "./orgs.js";
import { productControls, typedHoldBody } from "./products.js";
import { admissionFor, forgetAdmission, mountQueue } from "./queue.js";
import { route, start } from "./router.js";
import { eventView } from "./seatmap.js";
import { ticketsView } from "./tickets.js";

route("/", eventListView);
route("/events/:id", eventView);
route("/signin", signInView);
route("/signup", signUpView);
route("/bookings", bookingsView);
route("/tickets", ticketsView);
hooks.nav.push({ label: "My tickets", path: "/tickets" });

// Organizations (public/orgs.js, docs/organizations.md): the member's list with accept and leave;
// an invitation link (`/?invite=`) lands there.
takeInviteLink();
route("/orgs", orgsView);
hooks.nav.push({ label: "My organizations", path: "/orgs" });

// Ticket types and vouchers (public/products.js, docs/products.md): a type per seat (or per
// general-admission order) and a voucher field in the order panel; the hold frame names them.
hooks.orderControls.push(productControls);
hooks.holdFrame.push(async ({ state }, { type, ...body }) => ({ type, ...typedHoldBody(state, body) }));

// The waiting room (public/queue.js, docs/onsale.md): on an event in on-sale mode the order panel
// waits behind the queue, and every hold carries the buyer's admission.
const queueBefore = ({ event, state }) => {
  const anchor = document.getElementById("checkout");
  if (!anchor) return;
  mountQueue({ eventId: event.id, anchor, token: session.token, userId: session.user?.id, onAdmitted: () => state.render() }).catch((e) => say(`Queue: ${e.message}`, "error"));
};
hooks.eventPanels.push(queueBefore);
// An admission the inventory refuses (a new on-sale superseded it, or none is valid any more) is
// forgotten and the page joins the queue again, rather than failing every hold until it expires.
hooks.holdRefused.push((ctx, err) => {
  if (err.code !== "ADMISSION_SUPERSEDED" && err.code !== "NOT_ADMITTED") return;
  forgetAdmission(ctx.event.id);
  queueBefore(ctx);
});
hooks.holdFrame.push(async ({ event }, frame) => {
  const admission = admissionFor(event.id);
  return admission ? { ...frame, admission } : frame;
});

session.onChange(renderAccount);
window.addEventListener("hashchange", renderAccount);
renderAccount();
start();
