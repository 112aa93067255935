// Site assessment (星级站点): the sites under a region for a month, best score first, with their stars
// and each part's share; a row opens to every part's inputs, weight and points exactly as the API
// returns them, so an administrator can see why a site has the stars it has. Above: how many sites
// have each number of stars (an inline SVG and the same numbers as links that filter by them).
// Filters and the page live in the address, so a view can be bookmarked, sent, and gone back to.
import { api, attempt, el, field, lastOffset, loadKnownRegions, pager, svg, t, tf } from "/static/app.js";
import { addressMonth } from "/static/months.js";
import { crumbs as crumbTrail, viewLink as inPlaceLink, pct } from "/static/regions.js";

const root = document.getElementById("assessment-root");
const LIMIT = 50;
const PARTS = ["reachability", "sync", "study", "feedback"];
const LEVELS = [5, 4, 3, 2, 1];

/** The view in the address: month (YYYY-MM, empty: the API's default, this month), region, stars, offset. */
function state() {
  const q = new URLSearchParams(location.search);
  const stars = Number(q.get("stars"));
  return {
    month: addressMonth(q),
    region: (q.get("region") || "").trim(),
    stars: LEVELS.includes(stars) ? stars : null,
    offset: Math.max(0, Math.floor(Number(q.get("offset")) || 0)),
  };
}

function viewUrl(s) {
  const q = new URLSearchParams();
  if (s.month) q.set("month", s.month);
  if (s.region) q.set("region", s.region);
  if (s.stars) q.set("stars", String(s.stars));
  if (s.offset) q.set("offset", String(s.offset));
  return `${location.pathname}${q.size ? `?${q}` : ""}`;
}

function go(next) {
  history.pushState(null, "", viewUrl(next));
  fillForm(next);
  return show();
}

/** A link to another view of this page that does not reload it (a real href: it opens in a new tab too). */
function viewLink(next, text, attrs = {}) {
  return inPlaceLink(viewUrl(next), text, attrs, () => go(next));
}

/** API numbers as they came (JS prints 30.0 as 30); a missing one as a dash. */
const num = (x) => (x === null || x === undefined ? "—" : String(x));

/** ★★★★☆, read out as "4 星（共 5 星）". */
function starsOf(n) {
  return el("span", { class: "stars", role: "img", "aria-label": tf("assessment.stars_label", { n }) },
    "★".repeat(n) + "☆".repeat(5 - n));
}

// --- filters ------------------------------------------------------------------------------------------

function filterForm() {
  const form = el("form", { id: "filters", class: "card", role: "search", "aria-label": t("assessment.filters"),
    onsubmit: (e) => {
      e.preventDefault();
      const f = form.elements;
      go({ month: f.month.value, region: f.region.value.trim(), stars: Number(f.stars.value) || null, offset: 0 });
    } },
  el("div", { class: "row" },
    field("f-month", t("assessment.month"), el("input", { type: "month", id: "f-month", name: "month",
      pattern: "\\d{4}-\\d{2}", placeholder: "2026-11", autocomplete: "off" })), // a text field where no picker
    field("f-region", t("assessment.region"),
      el("input", { id: "f-region", name: "region", list: "known-regions", maxlength: 500, autocomplete: "off",
        "aria-describedby": "f-region-help" }),
      t("assessment.region_help")),
    field("f-stars", t("assessment.stars_filter"), el("select", { id: "f-stars", name: "stars" },
      el("option", { value: "" }, t("assessment.all")),
      LEVELS.map((n) => el("option", { value: n }, tf("assessment.level", { n }))))),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, t("assessment.apply")),
      el("button", { type: "button", class: "secondary", onclick: () => go({ month: "", region: "", stars: null, offset: 0 }) },
        t("assessment.clear")))),
  el("datalist", { id: "known-regions" }));
  return form;
}

function fillForm(s) {
  document.getElementById("f-region").value = s.region;
  document.getElementById("f-stars").value = s.stars ? String(s.stars) : "";
  if (s.month) document.getElementById("f-month").value = s.month;
}

// --- the summary: sites at each number of stars -------------------------------------------------------

/** Horizontal bars, one per star level; role="img" whose label says every number. The list beside it
 * has the same numbers as text, each a link to only those sites. */
function chart(counts) {
  const labelW = 70, barW = 360, rowH = 26, width = labelW + barW + 50, height = LEVELS.length * rowH + 6;
  const most = Math.max(1, ...LEVELS.map((n) => counts[n] ?? 0));
  const label = `${t("assessment.chart_title")}：${LEVELS.map((n) =>
    tf("assessment.level_count", { n, count: counts[n] ?? 0 })).join("；")}`;
  const box = svg("svg", { id: "stars-chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    svg("title", {}, label));
  LEVELS.forEach((n, i) => {
    const count = counts[n] ?? 0;
    const y = 4 + i * rowH;
    const w = (barW * count) / most;
    box.append(svg("g", { class: `level level-${n}` },
      svg("text", { x: labelW - 8, y: y + 15, class: "label", "text-anchor": "end" }, tf("assessment.level", { n })),
      svg("rect", { x: labelW, y, width: Math.max(w, count ? 2 : 0), height: 18 }),
      svg("text", { x: labelW + w + 6, y: y + 15, class: "value" }, count)));
  });
  return box;
}

function renderSummary(data, s) {
  const counts = data.stars;
  const region = s.region || t("assessment.all_regions");
  document.getElementById("summary-h").textContent = tf("assessment.summary", { month: data.month, region });
  document.getElementById("chart").replaceChildren(chart(counts));
  const levels = document.getElementById("levels");
  levels.replaceChildren(...LEVELS.map((n) => {
    const count = counts[n] ?? 0;
    const text = tf("assessment.level_count", { n, count });
    return el("li", { dataset: { stars: n } },
      count && s.stars !== n
        ? viewLink({ ...s, stars: n, offset: 0 }, text, { "aria-label": tf("assessment.level_link", { n, count }) })
        : el("span", { "aria-current": s.stars === n ? "true" : null }, text));
  }));
  if (s.stars) levels.append(el("li", {}, viewLink({ ...s, stars: null, offset: 0 }, t("assessment.all"))));
}

function crumbs(s) {
  const region = s.region.replaceAll("／", "/").split("/").map((p) => p.trim()).filter(Boolean).join("/");
  return crumbTrail(region, t("assessment.all_regions"), (path, name, attrs) =>
    viewLink({ ...s, region: path, offset: 0 }, name, attrs));
}

// --- the sites ----------------------------------------------------------------------------------------

/** One part's inputs as "label value" pairs, in the API's order; a key without a word shows as itself. */
function inputsOf(part) {
  return el("dl", { class: "inputs" }, Object.entries(part.inputs).map(([key, value]) => {
    const word = `assessment.input.${key}`;
    return el("div", { dataset: { input: key } },
      el("dt", {}, t(word) === word ? key : t(word)), el("dd", {}, num(value)));
  }));
}

function explanation(a) {
  return el("div", { class: "explain" },
    el("p", {}, tf("assessment.explain", {
      name: a.name, days: a.days, score: a.score.toFixed(1), stars: tf("assessment.stars_label", { n: a.stars }),
    })),
    el("table", { class: "parts" },
      el("thead", {}, el("tr", {}, ["part", "inputs", "value", "weight", "points"].map((c) =>
        el("th", { scope: "col" }, t(`assessment.d.${c}`))))),
      el("tbody", {}, a.parts.map((p) => el("tr", { dataset: { part: p.name } },
        el("th", { scope: "row" }, t(`assessment.part.${p.name}`),
          el("span", { class: "muted small how" }, t(`assessment.how.${p.name}`))),
        el("td", {}, inputsOf(p)),
        el("td", { class: "value" }, num(p.value)),
        el("td", { class: "weight" }, num(p.weight)),
        el("td", { class: "points" }, num(p.points))))),
      el("tfoot", {}, el("tr", {},
        el("th", { scope: "row", colspan: 4 }, t("assessment.d.total")),
        el("td", { class: "total" }, a.score.toFixed(1))))),
    el("p", { class: "muted small" }, t("assessment.d.formula"), "。", t("assessment.rule")));
}

function siteRows(a, month) {
  const detailId = `why-${a.site_id}`;
  const detail = el("tr", { class: "detail", id: detailId, hidden: true }, el("td", { colspan: 9 }));
  const label = tf("assessment.toggle", { name: a.name });
  const toggle = el("button", { type: "button", class: "secondary small", "aria-expanded": "false",
    "aria-controls": detailId, "aria-label": label,
    onclick: () => {
      const open = detail.hidden;
      if (open && !detail.firstChild.firstChild) detail.firstChild.append(explanation(a)); // built once, when asked
      detail.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = t(open ? "assessment.hide" : "assessment.show");
    } }, t("assessment.show"));
  const parts = Object.fromEntries(a.parts.map((p) => [p.name, p]));
  const study = `/ui/admin/sites/${a.site_id}/study${month ? `?month=${month}` : ""}`;
  const row = el("tr", { class: "site", dataset: { code: a.code, siteId: a.site_id } },
    el("th", { scope: "row" }, el("a", { href: study }, a.name), el("br"), el("code", { class: "muted small" }, a.code)),
    el("td", { class: "region small" }, a.region || "—"),
    el("td", { class: "stars" }, starsOf(a.stars)),
    el("td", { class: "score" }, a.score.toFixed(1)),
    PARTS.map((name) => el("td", { class: `part ${name}` }, parts[name] ? pct(parts[name].value * 100) : "—")),
    el("td", {}, toggle));
  return [row, detail];
}

function renderSites(data, s) {
  document.getElementById("sites-caption").textContent = tf("assessment.table_caption", { month: data.month });
  document.getElementById("sites-body").replaceChildren(...data.items.flatMap((a) => siteRows(a, data.month)));
  const empty = document.getElementById("sites-empty");
  empty.textContent = s.stars ? tf("assessment.none_with_stars", { n: s.stars }) : t("assessment.none");
  empty.hidden = data.items.length > 0;
  document.getElementById("sites").hidden = data.items.length === 0;
  pager(document.getElementById("sites-pager"), {
    offset: data.offset, limit: LIMIT, total: data.total, shown: data.items.length,
    words: { range: "assessment.range", prev: "assessment.prev", next: "assessment.next" }, attrs: { range: { id: "range", class: false, "aria-live": "polite" }, prev: { id: "prev" }, next: { id: "next" } },
    focusFallback: document.getElementById("summary-h"), onPage: (offset) => go({ ...s, offset }),
  });
}

let inflight = null; // a slower older answer must not overwrite a newer one

async function show() {
  const s = state();
  const q = new URLSearchParams({ limit: String(LIMIT), offset: String(s.offset) });
  if (s.month) q.set("month", s.month);
  if (s.region) q.set("region", s.region);
  if (s.stars) q.set("stars", String(s.stars));
  inflight?.abort();
  const controller = new AbortController();
  inflight = controller;
  const data = await attempt(() => api(`/api/v1/assessment?${q}`, { signal: controller.signal })
    .catch((err) => { if (err.name === "AbortError") return undefined; throw err; }));
  if (!data || inflight !== controller) return;
  inflight = null;
  if (data.items.length === 0 && data.total > 0 && s.offset > 0) { // an address past the end: its last page
    history.replaceState(null, "", viewUrl({ ...s, offset: lastOffset(data.total, LIMIT) }));
    return show();
  }
  document.getElementById("f-month").value = data.month; // the month the server chose when none was
  document.getElementById("crumbs").replaceChildren(...crumbs(s));
  renderSummary(data, s);
  renderSites(data, s);
}

window.addEventListener("popstate", () => {
  fillForm(state());
  show();
});

root.replaceChildren(
  filterForm(),
  el("section", { class: "card", "aria-labelledby": "summary-h" },
    el("h2", { id: "summary-h", tabindex: -1 }, t("assessment.chart_title")),
    el("nav", { "aria-label": t("assessment.crumbs") }, el("ol", { id: "crumbs", class: "crumbs" })),
    el("div", { class: "summary" },
      el("figure", { class: "chart" }, el("div", { id: "chart" })),
      el("ul", { id: "levels", class: "levels" })),
    el("p", { class: "muted small" }, t("assessment.rule"))),
  el("section", { class: "card" },
    el("table", { id: "sites" },
      el("caption", { id: "sites-caption" }),
      el("thead", {}, el("tr", {},
        ["site", "region", "stars", "score"].map((c) => el("th", { scope: "col" }, t(`assessment.col.${c}`))),
        PARTS.map((p) => el("th", { scope: "col", class: "part" }, t(`assessment.part.${p}`))),
        el("th", { scope: "col" }, t("assessment.col.details")))),
      el("tbody", { id: "sites-body" })),
    el("p", { id: "sites-empty", class: "muted", hidden: true }),
    el("div", { id: "sites-pager", class: "pager" })));
fillForm(state());
loadKnownRegions();
await show();
