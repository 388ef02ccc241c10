// "My organizations" (#/orgs, docs/organizations.md): the organizations the signed-in account is a
// member of, with its role, a way to leave (two steps), and the open invitations to its email with
// Accept. An invitation link (`/?invite=<token>`) lands here and offers to accept it.
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

async function accept(body, done) {
  try {
    const r = await api("POST", "/v1/invitations/accept", body);
    say(`You joined as ${roleText(r.role)}.`);
    await done();
  } catch (err) {
    say(`Could not accept: ${err.message}`, "error");
  }
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

function invitationRow(i, reload) {
  const ok = el("button", { type: "button", class: "accept", "data-invitation": i.id }, `Accept (${roleText(i.role, i.eventIds)})`);
  ok.addEventListener("click", async () => { ok.disabled = true; await accept({ invitationId: i.id }, reload); });
  return el("li", { class: "card invitation", "data-invitation": i.id },
    el("h2", {}, `Invitation to ${i.orgName}`),
    el("p", { class: "muted" }, `Until ${new Date(i.expiresAt).toLocaleDateString()}`),
    el("div", { class: "actions" }, ok),
  );
}

export async function orgsView({ view }) {
  if (!session.user) { navigate(`/signin?next=${encodeURIComponent("/orgs")}`); return; }
  const load = async () => {
    const link = sessionStorage.getItem(LINK_KEY);
    if (link) {
      sessionStorage.removeItem(LINK_KEY);
      await accept({ token: link }, async () => {});
    }
    const { data, invitations } = await api("GET", "/v1/orgs");
    view.replaceChildren(
      el("h1", {}, "My organizations"),
      invitations.length ? el("section", { "aria-label": "Invitations" }, el("ul", { class: "cards", id: "invitation-list" }, invitations.map((i) => invitationRow(i, load)))) : null,
      data.length
        ? el("ul", { class: "cards", id: "org-list" }, data.map((o) => orgRow(o, load)))
        : el("p", {}, "You belong to no organization. An organizer can invite you by email."),
    );
  };
  view.replaceChildren(el("h1", {}, "My organizations"), el("p", {}, "Loading…"));
  await load();
}
