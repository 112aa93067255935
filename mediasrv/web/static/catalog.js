// The catalogue: category buttons, a search box, results as cards with the matches highlighted.
// The state lives in the URL (?q=&category=&required=1&page=), so back/forward, reloads and the
// login redirect all come back to the same search.
import { api, el, page, pager as makePager, t, tf } from "/static/app.js";

const PER_PAGE = 20;
const form = document.getElementById("search-form");
const input = document.getElementById("q");
const requiredBox = document.getElementById("required");
const categoriesNav = document.getElementById("categories");
const results = document.getElementById("results");
const summary = document.getElementById("summary");
const pager = document.getElementById("pager");

let categories = [];
let current = null; // the search in flight, aborted when a newer one starts

function state() {
  const params = new URLSearchParams(location.search);
  const pageNo = Number.parseInt(params.get("page") || "1", 10);
  return {
    q: (params.get("q") || "").trim(),
    category: params.get("category") || "",
    required: params.get("required") === "1",
    page: Number.isFinite(pageNo) && pageNo >= 1 ? Math.min(pageNo, 100) : 1,
  };
}

/** Change the URL (a new history entry) and show that search. */
function go(changes, { focusResults = false } = {}) {
  const next = { ...state(), page: 1, ...changes };
  const params = new URLSearchParams();
  if (next.q) params.set("q", next.q);
  if (next.category) params.set("category", next.category);
  if (next.required) params.set("required", "1");
  if (next.page > 1) params.set("page", String(next.page));
  const query = params.toString();
  history.pushState(null, "", location.pathname + (query ? `?${query}` : ""));
  show().then(() => {
    // Paging: carry the focus to the new page's first card.
    if (focusResults) results.querySelector("a.result")?.focus();
  });
}

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

/** The server's highlighted text (HTML-escaped, matches in <mark>) as DOM nodes. Only the literal
 * <mark> and </mark> tags are structure (any "<" in the title itself arrives as &lt;); everything
 * else becomes text, so a title never turns into markup. */
function highlighted(html) {
  const nodes = [];
  let marked = false;
  for (const part of html.split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) {
      const text = part.replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, (entity) => ENTITIES[entity]);
      nodes.push(marked ? el("mark", {}, text) : document.createTextNode(text));
    }
  }
  return nodes;
}

function duration(seconds) {
  if (!seconds) return "";
  const s = Math.round(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

function categoryName(category) {
  return page.lang === "en" ? category.name_en : category.name_zh;
}

function renderCategories() {
  const buttons = [{ code: "", label: t("catalog.all") }, ...categories.map((c) => ({ code: c.code, label: categoryName(c) }))];
  categoriesNav.replaceChildren(
    ...buttons.map(({ code, label }) =>
      el("button", { type: "button", class: "tab", dataset: { category: code }, onclick: () => go({ category: code }) }, label),
    ),
  );
}

/** Built once and only marked afterwards, so the focus stays on the button just pressed. */
function markCategory() {
  const { category } = state();
  for (const button of categoriesNav.querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.category === category));
  }
}

function poster(programme) {
  // The stable /hls link works with this browser's session cookie; a video has a poster once ready.
  if (programme.kind === "video" && programme.asset_status === "ready" && programme.asset_id) {
    const img = el("img", { src: `/hls/${programme.asset_id}/poster.jpg`, alt: "", loading: "lazy", width: 160, height: 90 });
    img.addEventListener("error", () => img.replaceWith(el("span", { class: "no-poster" }, t("catalog.no_poster"))));
    return img;
  }
  const kind = programme.kind ? t(`catalog.kind.${programme.kind}`) : t("catalog.no_poster");
  return el("span", { class: "no-poster" }, kind);
}

function card(hit) {
  const p = hit.programme;
  const meta = [
    el("span", { class: "category" }, categoryName(p.category)),
    el("span", { class: `badge ${hit.required ? "required" : "optional"}` }, t(hit.required ? "catalog.required" : "catalog.optional")),
    p.kind && p.kind !== "pending" ? el("span", {}, t(`catalog.kind.${p.kind}`)) : null,
    p.duration_seconds ? el("span", { class: "duration" }, duration(p.duration_seconds)) : null,
    // a local programme says where it is published; the whole network's need not say so
    p.region ? el("span", { class: "region" }, `${t("common.region")}：${p.region}`) : null,
    hit.moment_seconds != null ? el("span", { class: "moment" }, tf("catalog.said_at", { at: duration(hit.moment_seconds) })) : null,
  ];
  // Said in the film: the programme page opens at that moment.
  const at = hit.moment_seconds != null ? `#t=${Math.floor(hit.moment_seconds * 1000) / 1000}` : "";
  return el(
    "li",
    {},
    el(
      "a",
      { class: "result", href: `/ui/programmes/${encodeURIComponent(p.id)}${at}`, dataset: { programmeId: p.id } },
      el("span", { class: "thumb" }, poster(p)),
      el(
        "span",
        { class: "body" },
        el("span", { class: "title" }, highlighted(hit.title_html)),
        el("span", { class: "meta" }, meta),
        hit.snippet_html ? el("span", { class: "snippet" }, highlighted(hit.snippet_html)) : null,
      ),
    ),
  );
}

/** Pages by number: the shared pager counts in rows, so page n is the rows from (n - 1) × per_page; the
 * search goes as far as page 100. */
function renderPager(found) {
  const limit = found.per_page;
  makePager(pager, {
    offset: (found.page - 1) * limit, limit, total: found.total, shown: found.hits.length,
    hidden: found.total <= limit, rangeBetween: true, reach: 100 * limit,
    words: { range: "catalog.page_of", prev: "catalog.prev", next: "catalog.next" },
    onPage: (offset) => go({ page: offset / limit + 1 }, { focusResults: true }),
  });
}

function renderError(err) {
  summary.textContent = "";
  pager.replaceChildren();
  results.replaceChildren(
    el(
      "div",
      { class: "card error-box", role: "alert" },
      el("p", {}, t("catalog.failed"), err.message || t("common.error")),
      el("button", { type: "button", onclick: () => show() }, t("catalog.retry")),
    ),
  );
}

async function show() {
  const s = state();
  input.value = s.q;
  requiredBox.checked = s.required;
  markCategory();
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const params = new URLSearchParams({ q: s.q, page: String(s.page), per_page: String(PER_PAGE) });
  if (s.category) params.set("category", s.category);
  if (s.required) params.set("required", "true"); // "false" would mean "optional only"
  results.setAttribute("aria-busy", "true");
  let found;
  try {
    found = await api(`/api/v1/search?${params}`, { signal: controller.signal });
  } catch (err) {
    if (err.name !== "AbortError") renderError(err);
    return;
  } finally {
    if (current === controller) results.removeAttribute("aria-busy");
  }
  summary.textContent = s.q ? tf("catalog.total_for", { q: s.q, n: found.total }) : tf("catalog.total", { n: found.total });
  if (!found.hits.length) {
    const message = s.q ? tf("catalog.empty_query", { q: s.q }) : t("catalog.empty");
    results.replaceChildren(
      el(
        "div",
        { class: "card empty" },
        el("p", {}, message),
        s.q ? el("button", { type: "button", class: "secondary", onclick: () => go({ q: "", category: "" }) }, t("catalog.clear")) : null,
      ),
    );
  } else {
    results.replaceChildren(el("ul", { class: "results", id: "result-list" }, found.hits.map(card)));
  }
  renderPager(found);
}

/** Arrow keys move the focus between a row of buttons or a grid of cards (a TV remote has no Tab). */
function moveFocus(items, from, key) {
  const i = items.indexOf(from);
  if (i < 0) return false;
  let j = i;
  if (key === "ArrowRight") j = i + 1;
  else if (key === "ArrowLeft") j = i - 1;
  else {
    // Up/down go to the card above/below: the one in the next row closest horizontally.
    const box = from.getBoundingClientRect();
    const down = key === "ArrowDown";
    let best = null;
    let bestScore = Infinity;
    for (const other of items) {
      const b = other.getBoundingClientRect();
      if (down ? b.top <= box.top + 1 : b.top >= box.top - 1) continue;
      const score = Math.abs(b.top - box.top) * 10000 + Math.abs(b.left - box.left);
      if (score < bestScore) [best, bestScore] = [other, score];
    }
    if (!best) return false;
    j = items.indexOf(best);
  }
  if (j < 0 || j >= items.length) return false;
  items[j].focus();
  return true;
}

const ARROWS = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"];

results.addEventListener("keydown", (event) => {
  if (!ARROWS.includes(event.key) || event.altKey || event.ctrlKey || event.metaKey) return;
  const cards = [...results.querySelectorAll("a.result")];
  if (moveFocus(cards, document.activeElement, event.key)) {
    event.preventDefault();
  } else if (event.key === "ArrowUp" && cards.includes(document.activeElement)) {
    event.preventDefault();
    input.focus(); // from the first row back up to the search box
  }
});

categoriesNav.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
  if (moveFocus([...categoriesNav.querySelectorAll("button")], document.activeElement, event.key)) event.preventDefault();
});

input.addEventListener("keydown", (event) => {
  // Down from the search box goes to the first result, as on a TV.
  if (event.key !== "ArrowDown") return;
  const first = results.querySelector("a.result");
  if (first) {
    event.preventDefault();
    first.focus();
  }
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  go({ q: input.value.trim() });
});

requiredBox.addEventListener("change", () => go({ required: requiredBox.checked }));
window.addEventListener("popstate", () => show());

async function start() {
  try {
    categories = await api("/api/v1/categories");
    renderCategories();
  } catch (err) {
    renderError(err);
    return;
  }
  await show();
}

start();
