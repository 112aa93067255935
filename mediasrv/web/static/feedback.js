// Feedback and demand (效果反馈和需求调查): the topics sites ask for, ranked as the API ranks them (most
// members, then most sites), and programmes as the sites rated them, best average first. Filters live
// in the address; category and date narrow the topics only (the ratings API takes a region alone).
// Topics and comments are typed at the sites: always shown as text.
import { api, attempt, beijing, beijingMidnight, el, field, loadKnownRegions, page, t, tf } from "/static/app.js";

const root = document.getElementById("feedback-root");
const FILTERS = ["region", "category", "since"];
let categories = new Map(); // code -> name in the page's language
let inflight = null; // the load under way: a newer one aborts it, so an older answer never wins

function state() {
  const q = new URLSearchParams(location.search);
  const since = q.get("since") || "";
  return {
    region: (q.get("region") || "").trim(),
    category: q.get("category") || "",
    since: /^\d{4}-\d{2}-\d{2}$/.test(since) ? since : "",
  };
}

function go(next) {
  const q = new URLSearchParams();
  for (const f of FILTERS) if (next[f]) q.set(f, next[f]);
  history.pushState(null, "", `${location.pathname}${q.size ? `?${q}` : ""}`);
  fillForm(next);
  return show();
}

/** Five stars filled to the average (4.5 shows four and a half), read out with the exact number. */
function starsOf(average) {
  const full = el("span", { class: "full" }, "★★★★★");
  full.style.width = `${(average / 5) * 100}%`; // through the CSSOM: no style attribute for a CSP to refuse
  return el("span", { class: "stars partial", role: "img", "aria-label": tf("feedback.average_label", { n: average }) },
    el("span", { class: "empty" }, "☆☆☆☆☆"), full);
}

// --- filters ------------------------------------------------------------------------------------------

function filterForm() {
  const form = el("form", { id: "filters", class: "card", role: "search", "aria-label": t("feedback.filters"),
    onsubmit: (e) => {
      e.preventDefault();
      const values = Object.fromEntries(new FormData(form));
      go(Object.fromEntries(FILTERS.map((f) => [f, String(values[f] || "").trim()])));
    } },
  el("div", { class: "row" },
    field("f-region", t("feedback.region"),
      el("input", { id: "f-region", name: "region", list: "known-regions", maxlength: 500, autocomplete: "off",
        placeholder: "河北省/邢台市" })),
    field("f-category", t("feedback.category"), el("select", { id: "f-category", name: "category" },
      el("option", { value: "" }, t("feedback.all")),
      [...categories].map(([code, name]) => el("option", { value: code }, name)))),
    field("f-since", t("feedback.since"), el("input", { type: "date", id: "f-since", name: "since" })),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, t("feedback.apply")),
      el("button", { type: "button", class: "secondary", onclick: () => go({}) }, t("feedback.clear")))),
  el("p", { class: "muted small" }, t("feedback.filter_note")),
  el("datalist", { id: "known-regions" }));
  return form;
}

function fillForm(s) {
  for (const f of FILTERS) document.getElementById(`f-${f}`).value = s[f] || "";
}

// --- the two tables -----------------------------------------------------------------------------------

function demandRow(d, i) {
  return el("tr", { class: "topic", dataset: { rank: i + 1 } },
    el("td", { class: "rank" }, i + 1),
    el("th", { scope: "row", class: "topic" }, d.topic),
    el("td", { class: "category" }, d.category ? categories.get(d.category) ?? d.category : t("feedback.no_category")),
    el("td", { class: "members" }, d.members),
    el("td", { class: "sites" }, d.sites),
    el("td", { class: "requests" }, d.requests),
    el("td", { class: "latest" }, el("time", { datetime: d.latest }, beijing(d.latest))));
}

function ratingRow(r) {
  return el("tr", { class: "rated", dataset: { programmeId: r.programme_id } },
    el("th", { scope: "row" }, el("a", { href: `/ui/programmes/${encodeURIComponent(r.programme_id)}` }, r.title)),
    el("td", { class: "average" }, starsOf(r.average), " ", el("span", { class: "number" }, String(r.average))),
    el("td", { class: "ratings" }, r.ratings),
    el("td", { class: "comments" }, r.comments.length
      ? el("ul", { class: "comments" }, r.comments.map((c) => el("li", {}, c)))
      : el("span", { class: "muted small" }, t("feedback.no_comments"))));
}

function table(id, caption, columns, body) {
  return el("table", { id },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c }, t(`feedback.col.${c}`))))),
    el("tbody", { id: `${id}-body` }, body));
}

async function show() {
  const s = state();
  const dq = new URLSearchParams();
  const rq = new URLSearchParams();
  if (s.region) {
    dq.set("region", s.region);
    rq.set("region", s.region);
  }
  if (s.category) dq.set("category", s.category);
  if (s.since) dq.set("since", beijingMidnight(s.since)); // the whole Beijing day counts
  inflight?.abort();
  const controller = new AbortController();
  inflight = controller;
  const { signal } = controller;
  const found = await attempt(() => Promise.all([`/api/v1/demands?${dq}`, `/api/v1/ratings?${rq}`].map((path) => api(path, { signal })))
    .catch((err) => { if (err.name === "AbortError") return undefined; throw err; }));
  if (inflight !== controller) return; // a newer filter's load is under way: its answer is the one shown
  inflight = null;
  if (!found) return;
  const [demands, ratings] = found;
  document.getElementById("demand-body").replaceChildren(...demands.map(demandRow));
  document.getElementById("demand").hidden = demands.length === 0;
  document.getElementById("demand-empty").hidden = demands.length > 0;
  document.getElementById("ratings-body").replaceChildren(...ratings.map(ratingRow));
  document.getElementById("ratings").hidden = ratings.length === 0;
  document.getElementById("ratings-empty").hidden = ratings.length > 0;
}

window.addEventListener("popstate", () => {
  fillForm(state());
  show();
});

const known = await attempt(() => api("/api/v1/categories"));
categories = new Map((known || []).map((c) => [c.code, page.lang === "en" ? c.name_en : c.name_zh]));
root.replaceChildren(
  filterForm(),
  el("section", { class: "card", "aria-labelledby": "demand-h" },
    el("h2", { id: "demand-h" }, t("feedback.demand")),
    table("demand", t("feedback.demand_caption"), ["rank", "topic", "category", "members", "sites", "requests", "latest"]),
    el("p", { id: "demand-empty", class: "muted", hidden: true }, t("feedback.no_demand"))),
  el("section", { class: "card", "aria-labelledby": "ratings-h" },
    el("h2", { id: "ratings-h" }, t("feedback.ratings")),
    table("ratings", t("feedback.ratings_caption"), ["programme", "average", "ratings", "comments"]),
    el("p", { id: "ratings-empty", class: "muted", hidden: true }, t("feedback.no_ratings"))));
fillForm(state());
loadKnownRegions();
await show();
