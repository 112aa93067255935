// The audit log, newest first: filters kept in the address (a filtered view can be bookmarked or sent),
// pages of 50, each event expandable to its details, with a change shown as before → after.
import { api, attempt, beijing, beijingMidnight, callerName, el, field, page, pager, t } from "/static/app.js";

const root = document.getElementById("audit-root");
const LIMIT = 50;
const ACTIONS = page.actions; // the server's list (audit.service.Action): one list, not two
const TARGETS = ["user", "org_unit", "token", "site", "programme", "study_list", "asset"];
const FILTERS = ["action", "actor_user_id", "target_type", "target_id", "since", "until"];
let names = { user: new Map(), org_unit: new Map(), token: new Map(), site: new Map() };

/** The word for a code, or the code itself when it has none (an action added after this page). */
const word = (key, fallback) => (key in page.words ? t(key) : fallback);


function state() {
  const q = new URLSearchParams(location.search);
  const s = { offset: Math.max(0, Number(q.get("offset")) || 0) };
  for (const f of FILTERS) s[f] = q.get(f) || "";
  return s;
}

function go(next) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(next)) if (v && !(k === "offset" && v === 0)) q.set(k, v);
  history.replaceState(null, "", q.size ? `?${q}` : location.pathname);
  return show();
}

/** The label of an event: a change of account says which (disabled, enabled, password). */
function actionLabel(e) {
  if (e.action === "user.update") {
    const active = e.details.is_active;
    if (active && typeof active === "object") return t(`audit.action.user.${active.after ? "reactivate" : "deactivate"}`);
    const keys = Object.keys(e.details);
    if (keys.length === 1 && keys[0] === "password") return t("audit.action.user.password");
  }
  return word(`audit.action.${e.action}`, e.action);
}

function nameOf(type, id) {
  const found = names[type]?.get(String(id));
  return found ? `${found}（#${id}）` : `#${id}`;
}

function targetCell(e) {
  const type = word(`audit.target.${e.target_type}`, e.target_type);
  if (e.target_type === "programme") {
    return [type, " ", el("a", { href: `/ui/programmes/${encodeURIComponent(e.target_id)}` }, e.target_id)];
  }
  return `${type} ${nameOf(e.target_type, e.target_id)}`;
}

function actorCell(e) {
  if (e.actor_role === "anonymous") return t("audit.anonymous");
  const role = word(`accounts.role.${e.actor_role}`, e.actor_role);
  return [callerName(e.actor_name), " ", el("span", { class: "badge" }, role)];
}

/** A recorded value in words: yes/no, role names, department/account/site names, lists. */
function valueText(key, value) {
  if (value === null || value === undefined || value === "") return t("audit.empty");
  if (typeof value === "boolean") return t(value ? "audit.yes" : "audit.no");
  if (Array.isArray(value)) return value.length ? value.map((v) => valueText(key, v)).join("、") : t("audit.empty");
  if (typeof value === "object") return JSON.stringify(value);
  if (key === "role") return word(`accounts.role.${value}`, value);
  if (key === "org_unit_id") return nameOf("org_unit", value);
  if (key === "user_id") return nameOf("user", value);
  if (key === "site_id") return nameOf("site", value);
  if (value === "changed") return t("audit.value.changed");
  return String(value);
}

const isChange = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && "before" in v && "after" in v;

/** The details as a table: changed fields first, before struck through and after highlighted. */
function detailsTable(details) {
  const entries = Object.entries(details).sort(([, a], [, b]) => Number(isChange(b)) - Number(isChange(a)));
  if (!entries.length) return el("p", { class: "muted" }, t("audit.no_details"));
  const hasChanges = entries.some(([, v]) => isChange(v));
  return el("table", { class: "diff" },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, t("audit.field")),
      hasChanges
        ? [el("th", { scope: "col" }, t("audit.before")), el("th", { scope: "col" }, t("audit.after"))]
        : el("th", { scope: "col" }, t("audit.value")))),
    el("tbody", {}, entries.map(([key, value]) => {
      const label = el("th", { scope: "row" }, word(`audit.key.${key}`, key));
      if (!isChange(value)) return el("tr", {}, label, el("td", { colspan: hasChanges ? 2 : 1 }, valueText(key, value)));
      return el("tr", { class: "changed" }, label,
        el("td", {}, el("del", {}, valueText(key, value.before))),
        el("td", {}, el("ins", {}, valueText(key, value.after)), el("span", { class: "visually-hidden" }, ` (${t("audit.changed")})`)));
    })));
}

function eventRows(e) {
  const detailId = `event-${e.id}`;
  const detail = el("tr", { class: "detail", id: detailId, hidden: true }, el("td", { colspan: 5 }));
  const name = (open) => `${t(open ? "audit.hide" : "audit.show")}：${actionLabel(e)} #${e.id}`;
  const toggle = el("button", { type: "button", class: "secondary small", "aria-expanded": "false", "aria-controls": detailId,
    "aria-label": name(false),
    onclick: () => {
      const open = detail.hidden;
      if (open && !detail.firstChild.firstChild) detail.firstChild.append(detailsTable(e.details)); // built once, when asked
      detail.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      toggle.setAttribute("aria-label", name(open));
      toggle.textContent = t(open ? "audit.hide" : "audit.show");
    } }, t("audit.show"));
  const row = el("tr", { class: "event", dataset: { id: e.id, action: e.action } },
    el("td", {}, el("time", { datetime: e.at }, beijing(e.at, { seconds: true }))),
    el("td", {}, actorCell(e)),
    el("td", {}, actionLabel(e), " ", el("code", { class: "muted small" }, e.action)),
    el("td", {}, targetCell(e)),
    el("td", {}, toggle));
  return [row, detail];
}

// Labels beside (not around) controls (app.js's field): a wrapped select's chosen option would join its name.
function select(name, label, options) {
  return field(`f-${name}`, label, el("select", { name, id: `f-${name}` }, el("option", { value: "" }, t("audit.all")), options));
}

function filterForm(s) {
  const users = [...names.user.entries()];
  const form = el("form", { id: "filters", class: "card", role: "search", "aria-label": t("audit.filters"), onsubmit: (e) => {
    e.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    go({ ...Object.fromEntries(FILTERS.map((f) => [f, (values[f] || "").trim()])), offset: 0 });
  } },
  el("div", { class: "row" },
    select("action", t("audit.action"), ACTIONS.map((a) => el("option", { value: a }, `${word(`audit.action.${a}`, a)}（${a}）`))),
    select("actor_user_id", t("audit.actor"), users.map(([id, n]) => el("option", { value: id }, n))),
    select("target_type", t("audit.target_type"), TARGETS.map((x) => el("option", { value: x }, word(`audit.target.${x}`, x)))),
    field("f-target_id", t("audit.target_id"), el("input", { name: "target_id", id: "f-target_id", maxlength: 64, autocomplete: "off" }))),
  el("div", { class: "row" },
    field("f-since", t("audit.since"), el("input", { type: "date", name: "since", id: "f-since" })),
    field("f-until", t("audit.until"), el("input", { type: "date", name: "until", id: "f-until" })),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, t("audit.apply")),
      el("button", { type: "button", class: "secondary", onclick: () => go({ offset: 0 }).then(() => fillForm(state())) }, t("audit.clear")))),
  el("p", { class: "muted small" }, t("audit.times")));
  return form;
}

function fillForm(s) {
  for (const f of FILTERS) {
    const input = document.getElementById(`f-${f}`);
    if (input) input.value = s[f];
  }
}

async function show() {
  const s = state();
  const q = new URLSearchParams({ limit: String(LIMIT), offset: String(s.offset) });
  for (const f of ["action", "actor_user_id", "target_type", "target_id"]) if (s[f]) q.set(f, s[f]);
  if (s.since) q.set("since", beijingMidnight(s.since));
  if (s.until) q.set("until", beijingMidnight(s.until, 1)); // the last day is included
  const found = await attempt(() => api(`/api/v1/audit?${q}`));
  if (!found) return;
  const body = document.getElementById("events-body");
  body.replaceChildren(...found.items.flatMap(eventRows));
  document.getElementById("events-empty").hidden = found.items.length > 0;
  pager(document.getElementById("events-pager"), {
    offset: found.offset, limit: LIMIT, total: found.total, shown: found.items.length,
    words: { range: "audit.range", prev: "audit.prev", next: "audit.next" }, attrs: { range: { id: "range", class: false, "aria-live": "polite" }, prev: { id: "prev" }, next: { id: "next" } },
    onPage: (offset) => go({ ...s, offset }),
  });
}

/** Names for ids in targets and details; the log still reads without them. */
async function loadNames() {
  const [users, units, tokens, sites] = await Promise.all(
    ["/api/v1/users", "/api/v1/org-units", "/api/v1/tokens", "/api/v1/sites"].map((p) => api(p).catch(() => [])));
  names = {
    user: new Map(users.map((u) => [String(u.id), u.username])),
    org_unit: new Map(units.map((u) => [String(u.id), u.name])),
    token: new Map(tokens.map((k) => [String(k.id), k.name])),
    site: new Map(sites.map((x) => [String(x.id), x.name])),
  };
}

await loadNames();
root.replaceChildren(
  filterForm(state()),
  el("section", { class: "card" },
    el("table", { id: "events" },
      el("thead", {}, el("tr", {}, ["at", "actor", "action", "target", "details"].map((c) =>
        el("th", { scope: "col" }, t(`audit.col.${c}`))))),
      el("tbody", { id: "events-body" })),
    el("p", { id: "events-empty", class: "muted", hidden: true }, t("audit.none")),
    el("div", { id: "events-pager", class: "pager" })));
fillForm(state());
await show();
