// "My organizations" (#/orgs, docs/organizations.md): the organizations the signed-in account is a
// member of, with its role, and a way to leave (two steps). An invitation link (`/?invite=<token>`)
// lands here: the page shows what it invites to and offers Accept. Invitations are reached only
// through their link (accounts' emails are not verified, so none are listed by email).
import { api, session } from "./api.js";
import { el, say } from "./dom.js";
import { navigate } from "./router.js";

const LINK_KEY = "evently.invite";
const ROLES = { owner: "Owner", admin: "Admin", event_manager: "Event manager", box_office: "Box office", door: "Door", viewer: "Viewer" };

/** The role in words; an event manager limited to chosen events says how many. */
export function roleText(role, eventIds) {
  const name = ROLES[role] ?? role;
  return role === "event_manager" && eventIds?.length ? `${name} (${eventIds.length} event${eventIds.length === 1 ? "" : "s"})` : name;
}

/** Keeps the token of an invitation link (`?invite=`) until the page can accept it, and cleans the address. */
export function takeInviteLink() {
  const params = new URLSearchParams(location.search);
  const token = params.get("invite");
  if (!token) return;
  sessionStorage.setItem(LINK_KEY, token);
  params.delete("invite");
  history.replaceState(null, "", `${location.pathname}${params.size ? `?${params}` : ""}#/orgs`);
}

function orgRow(o, reload) {
  const actions = el("div", { class: "actions" });
  const leave = el("button", { type: "button", class: "leave", "data-org": o.id }, `Leave ${o.name}`);
  leave.addEventListener("click", () => {
    const yes = el("button", { type: "button", class: "danger confirm-leave", "data-org": o.id }, `Yes, leave ${o.name}`);
    const no = el("button", { type: "button" }, "Stay");
    no.addEventListener("click", () => { actions.replaceChildren(leave); leave.focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api("POST", `/v1/orgs/${o.id}/leave`);
        say(`You left ${o.name}.`);
        await reload();
      } catch (err) {
        yes.disabled = false;
        say(err.code === "LAST_OWNER" ? `You are the last owner of ${o.name}: make someone else an owner first.` : `Could not leave: ${err.message}`, "error");
      }
    });
    actions.replaceChildren(yes, " ", no);
    yes.focus();
  });
  actions.append(leave);
  return el("li", { class: "card org", "data-org": o.id, "data-role": o.role },
    el("h2", {}, o.name, o.personal ? el("span", { class: "muted" }, " · personal") : null),
    el("p", { class: "org-role" }, `Your role: ${roleText(o.role, o.eventIds)}`),
    actions,
  );
}

/** The invitation the kept link names: what it invites to, with Accept (or why it cannot be). */
async function linkedInvitation(token, reload) {
  const forget = async () => { sessionStorage.removeItem(LINK_KEY); await reload(); };
  let i;
  try {
    i = await api("POST", "/v1/invitations/preview", { token });
  } catch (err) {
    sessionStorage.removeItem(LINK_KEY);
    say(`This invitation link cannot be used: ${err.message}`, "error");
    return null;
  }
  const actions = el("div", { class: "actions" });
  const later = el("button", { type: "button", class: "dismiss" }, "Not now");
  later.addEventListener("click", forget);
  if (i.forYou) {
    const ok = el("button", { type: "button", class: "accept" }, `Accept (${roleText(i.role, i.eventIds)})`);
    ok.addEventListener("click", async () => {
      ok.disabled = true;
      try {
        const r = await api("POST", "/v1/invitations/accept", { token });
        say(`You joined ${i.orgName} as ${roleText(r.role)}.`);
        await forget();
      } catch (err) {
        ok.disabled = false;
        say(`Could not accept: ${err.message}`, "error");
      }
    });
    actions.append(ok, " ", later);
  } else {
    actions.append(later);
  }
  return el("section", { class: "card invitation", id: "invitation", "aria-label": "Invitation", "data-org": i.orgId },
    el("h2", {}, `Invitation to ${i.orgName}`),
    el("p", {}, `As ${roleText(i.role, i.eventIds)}, for ${i.email}; until ${new Date(i.expiresAt).toLocaleDateString()}.`),
    i.forYou ? null : el("p", { class: "error" }, `You are signed in with another email: sign in as ${i.email} to accept.`),
    actions,
  );
}

export async function orgsView({ view }) {
  if (!session.user) { navigate(`/signin?next=${encodeURIComponent("/orgs")}`); return; }
  const load = async () => {
    const link = sessionStorage.getItem(LINK_KEY);
    const [invitation, { data }] = await Promise.all([link ? linkedInvitation(link, load) : null, api("GET", "/v1/orgs")]);
    view.replaceChildren(
      el("h1", {}, "My organizations"),
      invitation,
      data.length
        ? el("ul", { class: "cards", id: "org-list" }, data.map((o) => orgRow(o, load)))
        : el("p", {}, "You belong to no organization. An organizer can invite you by email."),
    );
  };
  view.replaceChildren(el("h1", {}, "My organizations"), el("p", {}, "Loading…"));
  await load();
}
