// Publishing: every programme with its department, category, publication region and media state;
// publish the ready ones to a region inside the administrator's scope, withdraw published ones (out
// of search and off every study list at once).
import { api, attempt, el, flash, page, pager, regionText, t, tf } from "/static/app.js";
import { confirmAction } from "/static/confirm.js";

const root = document.getElementById("programmes-root");
const PER_PAGE = 50;
let status = new URLSearchParams(location.search).get("status") || "";
let offset = 0;
let units = new Map(); // org-unit id -> name

const category = (c) => (page.lang === "zh" ? c.name_zh : c.name_en);

/** Why a programme cannot be published yet, or null when it can. */
function notReady(p) {
  if (!p.asset_id) return t("publishing.no_media");
  if (p.asset_status !== "ready") return t(`publishing.media_${p.asset_status}`);
  const pending = p.attachments.filter((a) => a.status !== "ready");
  return pending.length ? t("publishing.attachments_pending") : null;
}

function row(p) {
  const actions = [];
  if (p.status !== "published") {
    const reason = notReady(p);
    const why = `why-${p.id}`;
    actions.push(el("button", { type: "button", disabled: reason !== null, "aria-describedby": reason ? why : false,
      "aria-label": `${t("publishing.publish")}：${p.title}`, onclick: () => publish(p) }, t("publishing.publish")));
    if (reason) actions.push(el("span", { id: why, class: "muted small reason" }, reason));
  } else {
    actions.push(el("button", { type: "button", class: "secondary",
      "aria-label": `${t("publishing.withdraw")}：${p.title}`, onclick: () => withdraw(p) }, t("publishing.withdraw")));
  }
  return el("tr", { dataset: { id: p.id } },
    el("td", {}, el("a", { href: `/ui/programmes/${encodeURIComponent(p.id)}` }, p.title)),
    el("td", {}, p.org_unit_id === null ? "—" : units.get(p.org_unit_id) ?? `#${p.org_unit_id}`),
    el("td", {}, category(p.category)),
    el("td", { class: "region" }, regionText(p.region)),
    el("td", {}, p.asset_status ? el("span", { class: `badge media-${p.asset_status}` }, t(`publishing.media.${p.asset_status}`)) : "—"),
    el("td", { class: "state" }, el("span", { class: `badge status-${p.status}` }, t(`publishing.status.${p.status}`))),
    el("td", {}, el("div", { class: "cell-actions" }, actions)));
}

/** Replace a row after an action; it stays visible (even under another filter) until the next load,
 * so the new state is seen where the button was pressed. */
function update(p) {
  const old = root.querySelector(`tr[data-id="${CSS.escape(p.id)}"]`);
  const fresh = row(p);
  old.replaceWith(fresh);
  fresh.querySelector("button:not([disabled])")?.focus();
}

async function publish(p) {
  const ok = await confirmAction({ title: t("publishing.publish_title"), message: tf("publishing.publish_confirm", { title: p.title }),
    confirm: t("publishing.publish"), region: p.region });
  if (!ok) return;
  const done = await attempt(() => api(`/api/v1/programmes/${encodeURIComponent(p.id)}/publish`,
    { method: "POST", json: { region: ok.region } }));
  if (!done) return;
  update(done);
  flash(tf("publishing.published", { title: done.title }), "info");
}

async function withdraw(p) {
  const ok = await confirmAction({ title: t("publishing.withdraw_title"), message: tf("publishing.withdraw_confirm", { title: p.title }),
    confirm: t("publishing.withdraw"), reason: t("publishing.reason") });
  if (!ok) return;
  const done = await attempt(() => api(`/api/v1/programmes/${encodeURIComponent(p.id)}/withdraw`, { method: "POST", json: { reason: ok.reason } }));
  if (!done) return;
  update(done);
  flash(tf("publishing.withdrawn", { title: done.title }), "info");
}

async function load() {
  const query = new URLSearchParams({ limit: String(PER_PAGE), offset: String(offset) });
  if (status) query.set("status", status);
  const found = await attempt(() => api(`/api/v1/programmes?${query}`));
  if (!found) return;
  document.getElementById("programmes-body").replaceChildren(...found.items.map(row));
  document.getElementById("programmes-empty").hidden = found.items.length > 0;
  pager(document.getElementById("pager"), {
    offset, limit: PER_PAGE, total: found.total, shown: found.items.length, zeroRange: true,
    words: { range: "publishing.shown", prev: "publishing.prev", next: "publishing.next" },
    onPage: (to) => { offset = to; load(); },
  });
}

function tabs() {
  // Toggle buttons (aria-pressed): one Tab stop each, Enter or Space chooses.
  const choices = ["", "draft", "published", "withdrawn"];
  const nav = el("div", { class: "tabs", role: "group", "aria-label": t("publishing.filter") });
  const draw = () => nav.replaceChildren(...choices.map((s) => el("button", {
    type: "button", class: "secondary", "aria-pressed": String(s === status),
    onclick: () => {
      status = s;
      offset = 0;
      history.replaceState(null, "", s ? `?status=${s}` : location.pathname);
      draw();
      load();
    },
  }, s ? t(`publishing.status.${s}`) : t("publishing.all"))));
  draw();
  return nav;
}

root.replaceChildren(
  el("section", { class: "card" },
    tabs(),
    el("table", {},
      el("thead", {}, el("tr", {}, ["title", "department", "category", "region", "media", "state", "actions"].map((c) =>
        el("th", { scope: "col" }, t(`publishing.col.${c}`))))),
      el("tbody", { id: "programmes-body" })),
    el("p", { id: "programmes-empty", class: "muted", hidden: true }, t("publishing.none")),
    el("div", { id: "pager", class: "pager" })));
const found = await api("/api/v1/org-units").catch(() => []);
units = new Map(found.map((u) => [u.id, u.name]));
await load();
