// Sign in, sign up and sign out: the header's account area and the two forms.
import { api, session } from "./api.js";
import { el, say } from "./dom.js";
import { hooks } from "./hooks.js";
import { current, navigate } from "./router.js";

export function renderAccount() {
  const box = document.getElementById("account");
  const user = session.user;
  const back = encodeURIComponent(current().path);
  if (!user) {
    box.replaceChildren(
      el("a", { href: `#/signin?next=${back}`, id: "nav-signin" }, "Sign in"),
      el("a", { href: `#/signup?next=${back}`, id: "nav-signup", class: "button" }, "Create account"),
    );
    return;
  }
  box.replaceChildren(
    el("a", { href: "#/bookings", id: "nav-bookings" }, "My bookings"),
    ...hooks.nav.map((n) => el("a", { href: `#${n.path}` }, n.label)),
    el("span", { id: "who-email", class: "who" }, user.email),
    el("button", { type: "button", id: "logout", onclick: signOut }, "Sign out"),
  );
}

async function signOut() {
  try { await api("POST", "/v1/auth/logout"); } catch { /* the token may already be dead */ }
  session.clear();
  say("Signed out.");
  navigate("/");
}

function field(label, attrs) {
  const id = `f-${attrs.name}`;
  const hint = attrs.hint ? el("small", { id: `${id}-hint` }, attrs.hint) : null;
  const error = el("small", { id: `${id}-error`, class: "field-error", "aria-live": "polite" });
  const { hint: _h, ...rest } = attrs;
  const input = el("input", { id, ...rest, "aria-describedby": [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(" ") });
  return el("div", { class: "field" }, el("label", { for: id }, label), input, hint, error);
}

/** Puts the API's validation issues next to the fields they name, and the rest in the form's message. */
function showErrors(form, err) {
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const issues = err.details?.issues ?? [];
  let placed = false;
  for (const issue of issues) {
    const name = String(issue.path ?? "").split(".")[0];
    const input = form.querySelector(`[name="${name}"]`);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    form.querySelector(`#f-${name}-error`).textContent = issue.message;
    placed = true;
  }
  const messages = {
    INVALID_CREDENTIALS: "That email and password do not match an account.",
    EMAIL_TAKEN: "An account with that email already exists: sign in instead.",
    RATE_LIMITED: "Too many tries: wait a minute and try again.",
  };
  form.querySelector(".form-error").textContent = messages[err.code] ?? (placed ? "Please fix the fields marked above." : err.message);
  (form.querySelector("[aria-invalid]") ?? form.querySelector("input")).focus();
}

function authForm({ title, id, fields, submit, action, other }) {
  return ({ query, view }) => {
    if (session.user) { navigate(query.get("next") || "/"); return; }
    const form = el("form", { id, class: "auth-form", novalidate: true },
      ...fields.map(([label, attrs]) => field(label, attrs)),
      el("p", { class: "form-error", role: "alert" }),
      el("button", { type: "submit" }, submit),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const data = Object.fromEntries(new FormData(form));
        session.save(await api("POST", action, data));
        say(`Signed in as ${session.user.email}.`);
        navigate(query.get("next") || "/");
      } catch (err) {
        showErrors(form, err);
      } finally {
        button.disabled = false;
      }
    });
    const next = query.get("next") ? `?next=${encodeURIComponent(query.get("next"))}` : "";
    view.replaceChildren(el("section", { class: "narrow" }, el("h1", {}, title), form, el("p", {}, other[0], el("a", { href: `#${other[1]}${next}` }, other[2]))));
  };
}

export const signInView = authForm({
  title: "Sign in",
  id: "signin-form",
  submit: "Sign in",
  action: "/v1/auth/login",
  fields: [
    ["Email", { name: "email", type: "email", autocomplete: "username", required: true }],
    ["Password", { name: "password", type: "password", autocomplete: "current-password", required: true }],
  ],
  other: ["No account yet? ", "/signup", "Create one"],
});

export const signUpView = authForm({
  title: "Create an account",
  id: "signup-form",
  submit: "Create account",
  action: "/v1/auth/register",
  fields: [
    ["Name", { name: "name", autocomplete: "name", required: true, maxlength: "100" }],
    ["Email", { name: "email", type: "email", autocomplete: "email", required: true }],
    ["Password", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: "12", hint: "At least 12 characters." }],
  ],
  other: ["Already have an account? ", "/signin", "Sign in"],
});
