// The administrator's compliance page (学习情况): a Beijing month under a region, drilled down the
// 省/市/县/乡/村 tree as on the sites page. Totals, an inline SVG chart and a table with the same numbers
// (the table being the accessible source of truth), exports, then the sites behind the monthly task
// (or those that met it) with a link to each one's study records. Month, region, tab and page are kept
// in the address, so a view can be bookmarked or sent.
import { api, classHours as hours, el, flash, lastOffset, pager, t, tf } from "/static/app.js";
import { addressMonth, monthNav, thisMonth } from "/static/months.js";
import { crumbs, keepFocus as keepFocusIn, pairedBars, pct, regionName as nameOf, viewLink } from "/static/regions.js";

const root = document.getElementById("compliance-root");
const PAGE_SIZE = 50;
const SHOWS = ["behind", "met", "all"];

// show null: not chosen (the sites behind when there are any, else all)
const view = { month: thisMonth(), region: "", show: null, offset: 0 };
let inflight = null; // the load under way: a newer one aborts it, so an older answer never wins

function viewUrl(next = {}) {
  const v = { ...view, ...next };
  const q = new URLSearchParams({ month: v.month }); // always: a link opened next month shows this one
  if (v.region) q.set("region", v.region);
  if (v.show) q.set("show", v.show);
  if (v.offset) q.set("offset", String(v.offset));
  return `${location.pathname}?${q}`;
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  view.month = addressMonth(q) || thisMonth();
  view.region = q.get("region") || ""; // the server tidies it; its answer names it as stored
  view.show = SHOWS.includes(q.get("show")) ? q.get("show") : null;
  view.offset = Math.max(0, Math.floor(Number(q.get("offset")) || 0));
}

function go(next, { focus = true } = {}) {
  Object.assign(view, { offset: 0 }, next);
  history.pushState(null, "", viewUrl());
  return refresh({ focus });
}

/** A link to another region (or tab) of this page: a real href, so it also opens in a new tab. */
function regionLink(region, text, attrs = {}) {
  return viewLink(viewUrl({ region, offset: 0 }), text, attrs, () => go({ region }));
}

/** A row's name relative to the region shown: its last part, or what a special row means. */
const regionName = (row, shown) => nameOf(row, shown, "compliance");

/** Re-render without losing the keyboard's place: the focused control is found again by its key. A pager
 * button that the new page disables (the first or last page) hands the focus to the other one, or to the
 * list's heading, rather than letting it fall to <body>. */
const keepFocus = (render) => keepFocusIn(root, render); // the pager moves the focus off a disabled button

// --- the overview: breadcrumb, totals, chart, table --------------------------------------------------

function overviewSection() {
  return el("section", { class: "card", "aria-labelledby": "overview-h" },
    el("div", { class: "bar" },
      el("h2", { id: "overview-h", tabindex: -1 }, t("page.compliance")),
      el("a", { id: "csv", class: "button secondary", download: "" }, t("compliance.csv")),
      el("a", { id: "xlsx", class: "button secondary", download: "" }, t("compliance.xlsx"))),
    el("nav", { "aria-label": t("compliance.crumbs") }, el("ol", { id: "crumbs", class: "crumbs" })),
    el("p", { id: "task-note", class: "muted small" }),
    el("dl", { id: "totals", class: "stats" }),
    el("figure", { class: "chart" },
      el("div", { id: "chart" }),
      el("figcaption", { id: "chart-note", class: "muted small" })),
    el("table", { id: "regions" },
      el("caption", { id: "regions-caption" }),
      el("thead", {}, el("tr", {}, ["region", "sites", "sites_met", "met_percent", "sessions", "class_hours", "required",
        "fully_percent", "evidenced_percent"].map((c) => el("th", { scope: "col", class: c }, t(`compliance.col.${c}`))))),
      el("tbody", { id: "regions-body" }),
      el("tfoot", { id: "regions-foot" })),
    el("p", { id: "regions-empty", class: "muted", hidden: true }, t("compliance.no_sites_here")));
}

function renderCrumbs(region) {
  document.getElementById("crumbs").replaceChildren(...crumbs(region, t("compliance.all_regions"), regionLink));
}

function renderTotals(c) {
  const item = (key, value, extra, bad = false) => el("div", { class: `stat ${key}${bad ? " bad" : ""}` },
    el("dt", {}, t(`compliance.total.${key}`)),
    el("dd", {}, value, extra ? el("span", { class: "muted small" }, ` ${extra}`) : null));
  const behind = c.sites - c.sites_met;
  document.getElementById("totals").replaceChildren(
    item("sites", c.sites),
    item("met", pct(c.met_percent), tf("compliance.of", { n: c.sites_met, total: c.sites })),
    item("behind", behind, null, behind > 0),
    item("sessions", c.sessions),
    item("class_hours", hours(c.class_hours)),
    item("fully", pct(c.fully_percent), tf("compliance.of", { n: c.fully, total: c.required })),
    item("evidenced", pct(c.evidenced_percent), tf("compliance.of", { n: c.evidenced, total: c.required })));
}

function regionRow(row, shown) {
  const name = regionName(row, shown);
  const drill = row.region !== "" && row.region !== shown;
  return el("tr", { dataset: { region: row.region } },
    el("th", { scope: "row", class: "region" },
      drill ? regionLink(row.region, name, { dataset: { key: `region:${row.region}` } }) : name),
    ...cells(row).map(([key, value]) => el("td", { class: key }, value)));
}

function cells(r) {
  return [
    ["sites", r.sites], ["sites_met", r.sites_met], ["met_percent", pct(r.met_percent)], ["sessions", r.sessions],
    ["class_hours", hours(r.class_hours)], ["required", r.required], ["fully_percent", pct(r.fully_percent)],
    ["evidenced_percent", pct(r.evidenced_percent)],
  ];
}

function renderTable(data) {
  document.getElementById("regions-caption").textContent = tf("compliance.table_caption", {
    region: data.region || t("compliance.all_regions"),
  });
  document.getElementById("regions-body").replaceChildren(...data.regions.map((r) => regionRow(r, data.region)));
  document.getElementById("regions-foot").replaceChildren(el("tr", {},
    el("th", { scope: "row" }, t("compliance.sum")),
    ...cells(data.totals).map(([key, value]) => el("td", { class: key }, value))));
  document.getElementById("regions-empty").hidden = data.regions.length > 0;
  document.getElementById("regions").hidden = data.regions.length === 0;
}

function rowSummary(row, shown) {
  return tf("compliance.chart_row", {
    region: regionName(row, shown), met: pct(row.met_percent), sites_met: row.sites_met, sites: row.sites,
    fully: pct(row.fully_percent),
  });
}

/** Task met % and watched-fully % per region; the table holds the same numbers. */
function renderChart(data) {
  pairedBars(data.regions, {
    bars: [["met", t("compliance.legend.met"), (r) => r.met_percent], ["fully", t("compliance.legend.fully"), (r) => r.fully_percent]],
    name: (r) => regionName(r, data.region),
    summary: (r) => rowSummary(r, data.region),
    words: "compliance",
  });
}

function renderOverview(data) {
  const where = data.region || t("compliance.all_regions");
  renderCrumbs(data.region);
  document.getElementById("overview-h").textContent = tf("compliance.overview_of", { region: where, month: data.month });
  document.getElementById("task-note").textContent = tf("compliance.task", {
    sessions: data.task_sessions, hours: data.task_class_hours, minutes: data.class_hour_minutes,
  });
  renderTotals(data.totals);
  renderChart(data);
  renderTable(data);
  const q = new URLSearchParams({ month: data.month });
  if (data.region) q.set("region", data.region);
  for (const format of ["csv", "xlsx"]) {
    const link = document.getElementById(format);
    link.href = `/api/v1/compliance.${format}?${q}`;
    link.setAttribute("aria-label", tf("compliance.export_label", { region: where, month: data.month, format: format.toUpperCase() }));
  }
}

// --- the sites behind (or met) ----------------------------------------------------------------------

function sitesSection() {
  return el("section", { class: "card", "aria-labelledby": "list-h" },
    el("h2", { id: "list-h", tabindex: -1 }, t("compliance.list")),
    el("div", { id: "tabs", class: "tabs", role: "group", "aria-label": t("compliance.filter") }),
    el("table", { id: "site-list" },
      el("thead", {}, el("tr", {}, ["code", "name", "region", "sessions", "class_hours", "task", "viewing", "evidenced"]
        .map((c) => el("th", { scope: "col" }, t(`compliance.site.${c}`))))),
      el("tbody", { id: "site-rows" })),
    el("p", { id: "site-empty", class: "muted", hidden: true }),
    el("div", { id: "site-pager", class: "pager" }));
}

function chosenShow(totals) {
  if (view.show) return view.show;
  return totals.sites > totals.sites_met ? "behind" : "all";
}

function renderTabs(totals, current) {
  const counts = { behind: totals.sites - totals.sites_met, met: totals.sites_met, all: totals.sites };
  document.getElementById("tabs").replaceChildren(...SHOWS.map((s) => el("button", {
    type: "button", class: "secondary", "aria-pressed": String(s === current), dataset: { key: `tab:${s}`, show: s },
    onclick: () => {
      Object.assign(view, { show: s, offset: 0 });
      history.replaceState(null, "", viewUrl());
      refresh();
    },
  }, tf("compliance.tab", { label: t(`compliance.show.${s}`), n: counts[s] }))));
}

function siteRow(s, data) {
  const records = `/ui/admin/sites/${s.site_id}/study?month=${encodeURIComponent(s.month)}`;
  return el("tr", { dataset: { code: s.code, met: String(s.task_met) } },
    el("td", {}, el("code", {}, s.code)),
    el("td", { class: "name" }, el("a", { href: records, "aria-label": tf("compliance.site.records_of", { name: s.name }) }, s.name)),
    el("td", { class: "small" }, s.region || t("compliance.no_region")),
    el("td", { class: `sessions${s.sessions < data.task_sessions ? " short" : ""}` }, s.sessions),
    el("td", { class: `class_hours${s.class_hours < data.task_class_hours ? " short" : ""}` }, hours(s.class_hours)),
    el("td", { class: "task" }, el("span", { class: `badge ${s.task_met ? "met" : "behind"}` },
      t(s.task_met ? "compliance.met" : "compliance.behind"))),
    el("td", { class: "viewing" }, s.required
      ? tf("compliance.viewing_cell", { fully: s.fully, partly: s.partly, not: s.not_watched, required: s.required })
      : el("span", { class: "muted" }, t("compliance.none_required"))),
    el("td", { class: "evidenced" }, s.required ? tf("compliance.of", { n: s.evidenced, total: s.required }) : "—"));
}

function renderSites(found, show, data) {
  document.getElementById("site-rows").replaceChildren(...found.items.map((s) => siteRow(s, data)));
  const empty = document.getElementById("site-empty");
  empty.hidden = found.items.length > 0;
  empty.textContent = t(`compliance.none.${show}`); // a sentence per tab: "没有全部的站点" is no Chinese
  document.getElementById("site-list").hidden = found.items.length === 0;
  pager(document.getElementById("site-pager"), {
    offset: found.offset, limit: PAGE_SIZE, total: found.total, shown: found.items.length,
    hidden: found.total <= PAGE_SIZE && found.offset === 0,
    words: { range: "compliance.shown", prev: "compliance.prev", next: "compliance.next" },
    focusFallback: document.getElementById("list-h"),
    onPage: (offset) => {
      view.offset = offset;
      history.replaceState(null, "", viewUrl());
      refresh();
    },
  });
}

// --- loading -----------------------------------------------------------------------------------------

async function refresh({ focus = false } = {}) {
  inflight?.abort();
  const controller = new AbortController();
  inflight = controller;
  try {
    const q = new URLSearchParams({ month: view.month });
    if (view.region) q.set("region", view.region);
    const data = await api(`/api/v1/compliance?${q}`, { signal: controller.signal });
    const show = chosenShow(data.totals);
    const sq = new URLSearchParams({ month: data.month, limit: String(PAGE_SIZE), offset: String(view.offset) });
    if (data.region) sq.set("region", data.region);
    if (show !== "all") sq.set("task_met", String(show === "met"));
    let found = await api(`/api/v1/compliance/sites?${sq}`, { signal: controller.signal });
    const past = found.items.length === 0 && found.total > 0 && view.offset > 0; // an address past the end
    if (past) { // its last page instead of an empty list
      sq.set("offset", String(lastOffset(found.total, PAGE_SIZE)));
      found = await api(`/api/v1/compliance/sites?${sq}`, { signal: controller.signal });
    }
    if (view.region !== data.region || past) { // as the server stores it: links and exports use that spelling
      view.region = data.region;
      view.offset = found.offset;
      history.replaceState(null, "", viewUrl());
    }
    keepFocus(() => {
      renderOverview(data);
      renderTabs(data.totals, show);
      renderSites(found, show, data);
    });
    if (focus) document.getElementById("overview-h").focus();
  } catch (err) {
    if (err.name === "AbortError") return;
    flash(err.message || t("common.error"));
  } finally {
    if (inflight === controller) inflight = null;
  }
}

window.addEventListener("popstate", () => {
  readUrl();
  document.getElementById("month").value = view.month;
  refresh({ focus: true });
});

readUrl();
root.replaceChildren(
  monthNav(view.month, (month) => go({ month }, { focus: false })),
  overviewSection(),
  sitesSection());
await refresh();
