// Evently's web page: plain ES modules, no build step (docs/web-client.md). This file only wires
// them: the routes, the header, and the feature modules that plug into hooks.js.
import { session } from "./api.js";
import { renderAccount, signInView, signUpView } from "./auth.js";
import { bookingsView } from "./bookings.js";
import { eventListView } from "./events.js";
import { route, start } from "./router.js";
import { eventView } from "./seatmap.js";

route("/", eventListView);
route("/events/:id", eventView);
route("/signin", signInView);
route("/signup", signUpView);
route("/bookings", bookingsView);

session.onChange(renderAccount);
window.addEventListener("hashchange", renderAccount);
renderAccount();
start();

