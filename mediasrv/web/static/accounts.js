// Departments, people and access tokens. Every rule (password policy, who needs a department, whose
// token) is the server's: its message is shown as it is. A token's value exists on this page only in
// the dialog that shows it once; closing the dialog removes it from the document.
import { api, attempt, beijing, el, field, flash, t, tf } from "/static/app.js";
import { confirmAction } from "/static/confirm.js";

const root = document.getElementById("accounts-root");
let units = [];
let users = [];
let tokens = [];
let sites = [];
const search = { people: "", tokens: "" };
let showRevoked = true;

const when = (iso) => (iso ? beijing(iso) : t("accounts.never"));

const unitName = (id) => units.find((u) => u.id === id)?.name ?? (id === null ? "—" : `#${id}`);
const personName = (u) => (u.display_name && u.display_name !== u.username ? `${u.display_name}（${u.username}）` : u.username);
const siteName = (s) => `${s.name}（${s.code}）`;
const matches = (needle, ...texts) => !needle || texts.some((x) => String(x ?? "").toLowerCase().includes(needle));

function ownerText(token) {
  if (token.site_id !== null) {
    const site = sites.find((s) => s.id === token.site_id);
    return `${t("accounts.owner.site")}：${site ? siteName(site) : `#${token.site_id}`}`;
  }
  const user = users.find((u) => u.id === token.user_id);
  return user ? personName(user) : `#${token.user_id}`;
}

async function load() {
  const [u, p, k, s] = await Promise.all([
    attempt(() => api("/api/v1/org-units")),
    attempt(() => api("/api/v1/users")),
    attempt(() => api("/api/v1/tokens")),
    api("/api/v1/sites").catch(() => []), // names only: tokens still list without them
  ]);
  units = u ?? units;
  users = p ?? users;
  tokens = k ?? tokens;
  sites = s;
  drawUnits();
  drawPeople();
  drawTokens();
  refreshChoices();
}

// --- departments -------------------------------------------------------------------------------------

function unitsSection() {
  const input = el("input", { id: "unit-name", name: "name", required: true, maxlength: 120, placeholder: t("accounts.unit_example") });
  const form = el("form", { id: "unit-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const made = await attempt(() => api("/api/v1/org-units", { method: "POST", json: { name: input.value.trim() } }));
    if (!made) return;
    input.value = "";
    flash(t("accounts.unit_added"), "info");
    await load();
  } },
  el("label", { for: "unit-name" }, t("accounts.unit_name")),
  el("div", { class: "row" }, input, el("button", { type: "submit" }, t("accounts.unit_add"))));
  return el("section", { class: "card", "aria-labelledby": "units-h" },
    el("h2", { id: "units-h" }, t("accounts.units")),
    el("table", { id: "units" },
      el("thead", {}, el("tr", {}, ["unit", "unit_people", "created"].map((c) =>
        el("th", { scope: "col" }, c === "unit_people" ? t("accounts.unit_people") : t(`accounts.col.${c}`))))),
      el("tbody", { id: "units-body" })),
    el("p", { id: "units-empty", class: "muted", hidden: true }, t("accounts.no_units")),
    form);
}

function drawUnits() {
  document.getElementById("units-body").replaceChildren(...units.map((u) => el("tr", { dataset: { id: u.id } },
    el("td", {}, u.name),
    el("td", {}, users.filter((p) => p.org_unit_id === u.id).length),
    el("td", {}, when(u.created_at)))));
  document.getElementById("units-empty").hidden = units.length > 0;
}

// --- people ------------------------------------------------------------------------------------------

function searchField(name, placeholder) {
  const input = el("input", { type: "search", id: `search-${name}`, placeholder, autocomplete: "off",
    oninput: () => { search[name] = input.value.trim().toLowerCase(); (name === "people" ? drawPeople : drawTokens)(); } });
  return el("label", { class: "inline search" }, t("accounts.search"), input);
}

function peopleSection() {
  return el("section", { class: "card", "aria-labelledby": "people-h" },
    el("div", { class: "bar" },
      el("h2", { id: "people-h" }, t("accounts.people")),
      searchField("people", t("accounts.search_people_example"))),
    el("table", { id: "people" },
      el("thead", {}, el("tr", {}, ["username", "display_name", "role", "unit", "state", "last_login", "actions"].map((c) =>
        el("th", { scope: "col" }, t(`accounts.col.${c}`))))),
      el("tbody", { id: "people-body" })),
    el("p", { id: "people-empty", class: "muted", hidden: true }, t("accounts.no_people")),
    personForm());
}

function drawPeople() {
  const shown = users.filter((u) => matches(search.people, u.username, u.display_name));
  document.getElementById("people-body").replaceChildren(...shown.map((u) => el("tr", { dataset: { id: u.id, username: u.username }, class: u.is_active ? false : "off" },
    el("td", {}, u.username, u.has_password ? null : [" ", el("span", { class: "badge" }, t("accounts.service"))]),
    el("td", {}, u.display_name),
    el("td", {}, t(`accounts.role.${u.role}`)),
    el("td", {}, u.org_unit_id === null ? "—" : unitName(u.org_unit_id)),
    el("td", {}, el("span", { class: `badge ${u.is_active ? "state-on" : "warn"}` }, t(u.is_active ? "accounts.active" : "accounts.inactive")),
      u.locked_until ? [" ", el("span", { class: "badge warn" }, tf("accounts.locked", { until: beijing(u.locked_until) }))] : null),
    el("td", {}, u.has_password ? when(u.last_login_at) : "—"),
    el("td", {}, el("div", { class: "cell-actions" },
      u.locked_until ? el("button", { type: "button", class: "small", "aria-label": `${t("accounts.unlock")}：${u.username}`,
        onclick: () => unlock(u) }, t("accounts.unlock")) : null,
      el("button", { type: "button", class: "secondary small", "aria-label": `${t(u.is_active ? "accounts.deactivate" : "accounts.reactivate")}：${u.username}`,
        onclick: () => setActive(u, !u.is_active) }, t(u.is_active ? "accounts.deactivate" : "accounts.reactivate")),
      u.has_password ? el("button", { type: "button", class: "secondary small", "aria-label": `${t("accounts.reset")}：${u.username}`,
        onclick: () => resetPassword(u) }, t("accounts.reset")) : null)))));
  document.getElementById("people-empty").hidden = shown.length > 0;
}

function unitSelect(id, name) {
  return el("select", { id, name, "data-units": "" });
}

function personForm() {
  const password = el("input", { id: "new-password", name: "password", type: "password", autocomplete: "new-password", maxlength: 200 });
  const service = el("input", { type: "checkbox", name: "service", onchange: () => {
    password.disabled = service.checked;
    if (service.checked) password.value = "";
  } });
  const form = el("form", { id: "person-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const f = form.elements;
    const body = {
      username: f.username.value.trim(), display_name: f.display_name.value.trim(), role: f.role.value,
      org_unit_id: f.org_unit_id.value ? Number(f.org_unit_id.value) : null,
      password: service.checked ? null : password.value,
    };
    const made = await attempt(() => api("/api/v1/users", { method: "POST", json: body }));
    if (!made) return;
    form.reset();
    password.disabled = false;
    flash(tf("accounts.created", { name: made.username }), "info");
    await load();
    f.username.focus();
  } },
  el("h3", {}, t("accounts.new_person")),
  el("div", { class: "row" },
    el("label", {}, t("accounts.username"), el("input", { name: "username", required: true, maxlength: 64, autocomplete: "off" })),
    el("label", {}, t("accounts.display_name"), el("input", { name: "display_name", maxlength: 120, autocomplete: "off" }))),
  el("div", { class: "row" },
    field("new-role", t("accounts.role"), el("select", { id: "new-role", name: "role" },
      ["producer", "admin"].map((r) => el("option", { value: r }, t(`accounts.role.${r}`))))),
    field("new-unit", t("accounts.unit"), unitSelect("new-unit", "org_unit_id"))),
  el("label", { for: "new-password" }, t("accounts.password")),
  password,
  el("label", { class: "inline" }, service, t("accounts.service_account")),
  el("div", { class: "actions" }, el("button", { type: "submit" }, t("accounts.create"))));
  return form;
}

async function setActive(user, active) {
  const name = personName(user);
  const ok = await confirmAction({
    title: t(active ? "accounts.reactivate_title" : "accounts.deactivate_title"),
    message: tf(active ? "accounts.reactivate_confirm" : "accounts.deactivate_confirm", { name }),
    confirm: t(active ? "accounts.reactivate" : "accounts.deactivate"),
  });
  if (!ok) return;
  const done = await attempt(() => api(`/api/v1/users/${user.id}`, { method: "PATCH", json: { is_active: active } }));
  if (!done) return;
  flash(tf(active ? "accounts.reactivated" : "accounts.deactivated", { name }), "info");
  await load();
}

/** No confirmation: unlocking only gives back what waiting would, and the server audits it. */
async function unlock(user) {
  const done = await attempt(() => api(`/api/v1/users/${user.id}/unlock`, { method: "POST" }));
  if (!done) return;
  flash(tf("accounts.unlocked", { name: personName(user) }), "info");
  await load();
  document.querySelector(`#people-body tr[data-id="${user.id}"] button`)?.focus();
}

/** A modal with fields; resolves to the form's values, or null when cancelled (Esc or the button). */
function ask({ title, help, fields, submit }) {
  const before = document.activeElement;
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "confirm", "aria-labelledby": "ask-h" });
    const form = el("form", { method: "dialog", novalidate: true },
      el("h2", { id: "ask-h" }, title),
      help ? el("p", { class: "muted" }, help) : null,
      fields,
      el("div", { class: "actions" },
        el("button", { type: "submit", value: "ok" }, submit),
        el("button", { type: "button", class: "secondary", onclick: () => dialog.close("cancel") }, t("common.cancel"))));
    dialog.append(form);
    dialog.addEventListener("close", () => {
      const values = dialog.returnValue === "ok" ? Object.fromEntries(new FormData(form)) : null;
      dialog.remove();
      if (before instanceof HTMLElement && before.isConnected) before.focus();
      resolve(values);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

async function resetPassword(user) {
  const name = personName(user);
  const values = await ask({
    title: tf("accounts.reset_title", { name }),
    help: t("accounts.reset_help"),
    fields: el("label", {}, t("accounts.new_password"),
      el("input", { name: "password", type: "password", autocomplete: "new-password", maxlength: 200, autofocus: true })),
    submit: t("accounts.reset_ok"),
  });
  if (!values) return;
  const done = await attempt(() => api(`/api/v1/users/${user.id}`, { method: "PATCH", json: { password: values.password } }));
  if (!done) return;
  flash(tf("accounts.reset_done", { name }), "info");
  await load(); // a new password also lifts a lock
}

// --- tokens ------------------------------------------------------------------------------------------

function tokensSection() {
  const revoked = el("input", { type: "checkbox", id: "show-revoked", checked: showRevoked,
    onchange: () => { showRevoked = revoked.checked; drawTokens(); } });
  return el("section", { class: "card", "aria-labelledby": "tokens-h" },
    el("div", { class: "bar" },
      el("h2", { id: "tokens-h" }, t("accounts.tokens")),
      searchField("tokens", t("accounts.search_tokens_example")),
      el("label", { class: "inline" }, revoked, t("accounts.show_revoked"))),
    el("p", { class: "muted small" }, t("accounts.tokens_help")),
    el("table", { id: "tokens" },
      el("thead", {}, el("tr", {}, ["token_name", "owner", "created", "last_used", "state", "actions"].map((c) =>
        el("th", { scope: "col" }, t(`accounts.col.${c}`))))),
      el("tbody", { id: "tokens-body" })),
    el("p", { id: "tokens-empty", class: "muted", hidden: true }, t("accounts.no_tokens")),
    tokenForm());
}

function drawTokens() {
  const shown = tokens.filter((k) => (showRevoked || !k.revoked_at) && matches(search.tokens, k.name, ownerText(k)));
  document.getElementById("tokens-body").replaceChildren(...shown.map((k) => el("tr", { dataset: { id: k.id }, class: k.revoked_at ? "off" : false },
    el("td", {}, k.name),
    el("td", {}, ownerText(k)),
    el("td", {}, when(k.created_at)),
    el("td", {}, when(k.last_used_at)),
    el("td", {}, k.revoked_at
      ? el("span", { class: "badge warn" }, `${t("accounts.revoked")} ${when(k.revoked_at)}`)
      : el("span", { class: "badge state-on" }, t("accounts.valid"))),
    el("td", {}, k.revoked_at ? null : el("button", { type: "button", class: "secondary small",
      "aria-label": `${t("accounts.revoke")}：${k.name}`, onclick: () => revoke(k) }, t("accounts.revoke"))))));
  document.getElementById("tokens-empty").hidden = shown.length > 0;
}

function tokenForm() {
  const userSelect = el("select", { id: "token-user", name: "user_id" });
  const siteSelect = el("select", { id: "token-site", name: "site_id", disabled: true });
  const pick = (kind) => {
    userSelect.disabled = kind !== "user";
    siteSelect.disabled = kind !== "site";
  };
  const form = el("form", { id: "token-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const f = form.elements;
    const body = { name: f.name.value.trim() };
    if (f.owner.value === "site") body.site_id = Number(siteSelect.value) || null;
    else body.user_id = Number(userSelect.value) || null;
    const made = await attempt(() => api("/api/v1/tokens", { method: "POST", json: body }));
    if (!made) return;
    f.name.value = "";
    await load();
    await showOnce(made);
    document.querySelector(`#tokens-body tr[data-id="${made.id}"] button`)?.focus();
  } },
  el("h3", {}, t("accounts.new_token")),
  el("label", {}, t("accounts.token_name"),
    el("input", { name: "name", required: true, maxlength: 120, placeholder: t("accounts.token_name_example"), autocomplete: "off" })),
  el("fieldset", {}, el("legend", {}, t("accounts.owner_kind")),
    ["user", "site"].map((k) => el("label", { class: "inline" },
      el("input", { type: "radio", name: "owner", value: k, checked: k === "user", onchange: () => pick(k) }), t(`accounts.owner.${k}`))),
    el("div", { class: "row" },
      field("token-user", t("accounts.owner_user"), userSelect),
      field("token-site", t("accounts.owner_site"), siteSelect))),
  el("div", { class: "actions" }, el("button", { type: "submit" }, t("accounts.token_create"))));
  return form;
}

/** The new token's value, once, in a modal. It lives only in this dialog, which is removed on close. */
function showOnce(made) {
  const before = document.activeElement;
  return new Promise((resolve) => {
    const value = el("input", { id: "token-value", readonly: true, value: made.token, spellcheck: "false", autocomplete: "off",
      onfocus: (e) => e.target.select() });
    const copy = async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(value.value);
        flash(t("accounts.copied"), "info");
      } catch {
        flash(t("accounts.copy_failed")); // selected above: Ctrl+C still works
      }
    };
    const dialog = el("dialog", { class: "confirm token-once", "aria-labelledby": "once-h", "aria-describedby": "once-warn" },
      el("form", { method: "dialog" },
        el("h2", { id: "once-h" }, t("accounts.token_shown_title")),
        el("p", { class: "note", id: "once-warn" }, t("accounts.token_warning")),
        el("p", {}, `${t("accounts.col.token_name")}：${made.name} · ${t("accounts.col.owner")}：${ownerText(made)}`),
        el("label", { for: "token-value" }, t("accounts.token_value")),
        el("div", { class: "row" }, value, el("button", { type: "button", class: "secondary", onclick: copy }, t("accounts.copy"))),
        el("div", { class: "actions" }, el("button", { type: "submit", value: "done" }, t("accounts.token_done")))));
    dialog.addEventListener("close", () => {
      value.value = "";
      dialog.remove();
      if (before instanceof HTMLElement && before.isConnected) before.focus();
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
    value.focus();
  });
}

async function revoke(token) {
  const ok = await confirmAction({
    title: t("accounts.revoke_title"),
    message: tf("accounts.revoke_confirm", { name: token.name }),
    confirm: t("accounts.revoke"),
  });
  if (!ok) return;
  const done = await attempt(() => api(`/api/v1/tokens/${token.id}`, { method: "DELETE" }));
  if (!done) return;
  flash(tf("accounts.revoked_done", { name: token.name }), "info");
  await load();
}

/** Department and owner choices follow the lists; a choice already made is kept. */
function refreshChoices() {
  for (const select of document.querySelectorAll("select[data-units]")) {
    const keep = select.value;
    select.replaceChildren(el("option", { value: "" }, t("accounts.unit_none")),
      ...units.map((u) => el("option", { value: u.id }, u.name)));
    select.value = keep;
  }
  const userSelect = document.getElementById("token-user");
  const keepUser = userSelect.value;
  userSelect.replaceChildren(...users.filter((u) => u.is_active).map((u) =>
    el("option", { value: u.id }, `${personName(u)}${u.has_password ? "" : ` · ${t("accounts.service")}`}`)));
  if (keepUser) userSelect.value = keepUser;
  const siteSelect = document.getElementById("token-site");
  const keepSite = siteSelect.value;
  siteSelect.replaceChildren(...(sites.length ? sites.map((s) => el("option", { value: s.id }, siteName(s)))
    : [el("option", { value: "" }, t("accounts.no_sites"))]));
  if (keepSite) siteSelect.value = keepSite;
}

root.replaceChildren(unitsSection(), peopleSection(), tokensSection());
await load();
