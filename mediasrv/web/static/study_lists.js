// Required/optional study lists: browse, create for a period, then edit one list (programmes found by
// search, ordered by drag or by the up/down buttons, regions), save, publish, archive. The server
// checks every rule; its message is shown as it is.
import { api, attempt, el, flash, loadKnownRegions, page, t, tf } from "/static/app.js";
import { confirmAction } from "/static/confirm.js";

const root = document.getElementById("study_lists-root");
const live = el("p", { class: "visually-hidden", "aria-live": "polite" }); // move announcements
const filters = { status: "", kind: "" };
let current = null; // the open list as the server has it
let draft = null; // the open list as edited here
let dirty = false;

const pad = (n) => String(n).padStart(2, "0");
const iso = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const period = (s) => `${s.starts_on} ${t("lists.to")} ${s.ends_on}`;
const regionText = (regions) => (regions.length ? regions.join("、") : t("lists.everywhere"));

/** "河北省 / 邢台市/" -> "河北省/邢台市", as the server stores it (full-width slashes accepted). */
function normalRegion(text) {
  return text.replaceAll("／", "/").split("/").map((p) => p.trim()).filter(Boolean).join("/");
}

/** Search titles arrive HTML-escaped with matches in <mark>: rebuilt as text nodes and <mark>
 * elements, so nothing from the server is ever parsed as HTML. */
function marked(html) {
  const entities = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };
  const text = (s) => s.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (m) => entities[m]);
  return html.split(/(<mark>.*?<\/mark>)/s).filter(Boolean).map((part) =>
    part.startsWith("<mark>") ? el("mark", {}, text(part.slice(6, -7))) : text(part));
}

function badge(kind, value) {
  return el("span", { class: `badge ${kind}-${value}` }, t(`lists.${kind}.${value}`));
}

// --- regions: add and remove paths, suggestions from the sites' regions -----------------------------

function regionEditor(regions, { readOnly, onChange, idPrefix }) {
  const chips = el("ul", { class: "chips", "aria-label": t("lists.regions") });
  const input = el("input", {
    id: `${idPrefix}-region`, list: "known-regions", placeholder: "河北省/邢台市", autocomplete: "off",
    "aria-describedby": `${idPrefix}-region-help`,
  });
  const draw = () => {
    chips.replaceChildren(...(regions.length ? regions : [null]).map((r) => r === null
      ? el("li", { class: "muted" }, t("lists.everywhere"))
      : el("li", { class: "chip" }, r, readOnly ? null : el("button", {
        type: "button", class: "secondary small", "aria-label": `${t("lists.region_remove")}：${r}`,
        onclick: () => { regions.splice(regions.indexOf(r), 1); draw(); onChange(); input.focus(); },
      }, "×"))));
  };
  const add = () => {
    const path = normalRegion(input.value);
    if (!path) return;
    if (!regions.includes(path)) regions.push(path);
    input.value = "";
    draw();
    onChange();
  };
  draw();
  if (readOnly) return el("div", {}, el("b", {}, t("lists.regions")), chips);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); add(); } // Enter adds the region, not submits the form
  });
  return el("fieldset", { class: "regions" },
    el("legend", {}, t("lists.regions")),
    chips,
    el("label", { for: input.id }, t("lists.region_add_label")),
    el("div", { class: "row" }, input, el("button", { type: "button", class: "secondary", onclick: add }, t("lists.region_add"))),
    el("p", { id: `${idPrefix}-region-help`, class: "muted small" }, t("lists.region_help")));
}

// --- the lists ---------------------------------------------------------------------------------------

async function loadLists() {
  const query = new URLSearchParams({ limit: "200" });
  for (const [k, v] of Object.entries(filters)) if (v) query.set(k, v);
  const found = await attempt(() => api(`/api/v1/study-lists?${query}`));
  if (!found) return;
  const body = document.getElementById("lists-body");
  body.replaceChildren(...found.items.map((s) => el("tr", { dataset: { id: s.id } },
    el("td", {}, el("button", { type: "button", class: "link", onclick: () => openList(s.id) }, s.title)),
    el("td", {}, badge("kind", s.kind)),
    el("td", {}, period(s)),
    el("td", {}, s.expected_hours),
    el("td", {}, regionText(s.regions)),
    el("td", { class: "layer" }, s.region || t("common.whole_network")),
    el("td", {}, s.items.length),
    el("td", {}, badge("status", s.status)))));
  document.getElementById("lists-empty").hidden = found.items.length > 0;
}

function filterSelect(name, values) {
  const select = el("select", { id: `filter-${name}`, onchange: () => { filters[name] = select.value; loadLists(); } },
    el("option", { value: "" }, t("lists.all")),
    values.map((v) => el("option", { value: v }, t(`lists.${name}.${v}`))));
  return el("label", { class: "inline" }, t(`lists.filter_${name}`), select);
}

function listsSection() {
  return el("section", { class: "card", "aria-labelledby": "lists-h" },
    el("div", { class: "bar" },
      el("h2", { id: "lists-h" }, t("lists.title")),
      filterSelect("status", ["draft", "published", "archived"]),
      filterSelect("kind", ["required", "optional"]),
      el("button", { type: "button", id: "new-list", onclick: showCreate }, t("lists.new"))),
    el("table", {},
      el("thead", {}, el("tr", {}, ["name", "kind", "period", "hours", "regions", "layer", "items", "state"].map((c) =>
        el("th", { scope: "col" }, t(`lists.col.${c}`))))),
      el("tbody", { id: "lists-body" })),
    el("p", { id: "lists-empty", class: "muted", hidden: true }, t("lists.none")));
}

// --- a new list --------------------------------------------------------------------------------------

function showCreate() {
  const box = document.getElementById("create");
  const now = new Date();
  const regions = [];
  const form = el("form", { id: "create-form", novalidate: true },
    el("label", {}, t("lists.name"), el("input", { name: "title", required: true, maxlength: 255, placeholder: t("lists.name_example") })),
    el("fieldset", { class: "row" }, el("legend", {}, t("lists.kind")),
      ["required", "optional"].map((k) => el("label", { class: "inline" },
        el("input", { type: "radio", name: "kind", value: k, checked: k === "required" }), t(`lists.kind.${k}`)))),
    el("div", { class: "row" },
      el("label", {}, t("lists.starts_on"), el("input", { type: "date", name: "starts_on", required: true,
        value: iso(new Date(now.getFullYear(), now.getMonth(), 1)) })),
      el("label", {}, t("lists.ends_on"), el("input", { type: "date", name: "ends_on", required: true,
        value: iso(new Date(now.getFullYear(), now.getMonth() + 1, 0)) })),
      el("label", {}, t("lists.hours"), el("input", { type: "number", name: "expected_hours", min: 0, max: 1000, step: 0.5, value: 0 }))),
    regionEditor(regions, { readOnly: false, onChange: () => {}, idPrefix: "create" }),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, t("lists.create")),
      el("button", { type: "button", class: "secondary", onclick: () => { box.hidden = true; document.getElementById("new-list").focus(); } },
        t("common.cancel"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = form.elements;
    const created = await attempt(() => api("/api/v1/study-lists", { method: "POST", json: {
      title: f.title.value.trim(), kind: f.kind.value, starts_on: f.starts_on.value, ends_on: f.ends_on.value,
      expected_hours: Number(f.expected_hours.value || 0), regions,
    } }));
    if (!created) return;
    box.hidden = true;
    flash(t("lists.created"), "info");
    await loadLists();
    show(created);
  });
  box.replaceChildren(el("h2", { id: "create-h" }, t("lists.new")), form);
  box.hidden = false;
  form.elements.title.focus();
}

// --- one list ----------------------------------------------------------------------------------------

async function openList(id) {
  if (dirty && !(await confirmAction({ title: t("lists.discard_title"), message: t("lists.discard"), confirm: t("lists.discard_ok") }))) return;
  const found = await attempt(() => api(`/api/v1/study-lists/${id}`));
  if (found) show(found);
}

function show(studyList) {
  current = studyList;
  draft = {
    ...studyList,
    regions: [...studyList.regions],
    items: studyList.items.map((i) => ({ programme_id: i.programme_id, title: i.title, status: i.status })),
  };
  dirty = false;
  history.replaceState(null, "", `?list=${studyList.id}`);
  renderEditor();
  document.getElementById("editor-h").focus();
}

function touched() {
  dirty = true;
  document.getElementById("unsaved").hidden = false;
}

/** Whether the open list is shown without controls: history (the server refuses changes to it), or a
 * list a layer above set (a county reads the province's list, only the province changes it). */
const readOnlyNow = () => current.status === "archived" || !current.editable;

function renderEditor() {
  const box = document.getElementById("editor");
  const readOnly = readOnlyNow();
  const field = (name, label, attrs) => el("label", {}, label, el("input", {
    name, value: draft[name], disabled: readOnly, ...attrs,
    oninput: (e) => { draft[name] = e.target.value; touched(); },
  }));
  box.replaceChildren(...[ // replaceChildren would write null as text: the absent parts are dropped
    el("h2", { id: "editor-h", tabindex: -1 }, draft.title, " ", badge("kind", draft.kind), " ", badge("status", current.status)),
    current.status === "published" ? el("p", { class: "note" }, t("lists.published_note")) : null,
    current.status === "archived" ? el("p", { class: "note" }, t("lists.archived_note")) : null,
    current.editable ? null : el("p", { class: "note", id: "above-note" },
      tf("lists.above_note", { layer: current.region || t("common.whole_network") })),
    el("div", { class: "row" },
      field("title", t("lists.name"), { maxlength: 255 }),
      field("starts_on", t("lists.starts_on"), { type: "date" }),
      field("ends_on", t("lists.ends_on"), { type: "date" }),
      field("expected_hours", t("lists.hours"), { type: "number", min: 0, max: 1000, step: 0.5 })),
    regionEditor(draft.regions, { readOnly, onChange: touched, idPrefix: "edit" }),
    el("h3", { id: "items-h" }, t("lists.items")),
    readOnly ? null : el("p", { class: "muted small", id: "items-help" }, t("lists.items_help")),
    el("ol", { id: "items", class: "items", "aria-labelledby": "items-h", "aria-describedby": readOnly ? false : "items-help" }),
    readOnly ? null : searchBox(),
    el("div", { class: "actions" },
      readOnly ? null : el("button", { type: "button", id: "save", onclick: save }, t("common.save")),
      current.status === "draft" && !readOnly ? el("button", { type: "button", id: "publish", onclick: publish }, t("lists.publish")) : null,
      readOnly ? null : el("button", { type: "button", class: "secondary", onclick: archive }, t("lists.archive")),
      el("button", { type: "button", class: "secondary", onclick: close }, t("lists.close")),
      el("span", { id: "unsaved", class: "unsaved", hidden: true }, t("lists.unsaved"))),
    live].filter(Boolean));
  renderItems();
  if (lastHits.length) refreshResults(); // the last search's results survive a save
  box.hidden = false;
}

function renderItems(focus = null) {
  const readOnly = readOnlyNow();
  const ol = document.getElementById("items");
  if (!draft.items.length) {
    ol.replaceChildren(el("li", { class: "muted empty" }, t("lists.no_items")));
    return;
  }
  ol.replaceChildren(...draft.items.map((item, i) => {
    const li = el("li", { class: "item", draggable: readOnly ? false : "true", dataset: { id: item.programme_id } },
      readOnly ? null : el("span", { class: "handle", "aria-hidden": "true", title: t("lists.drag") }, "⠿"),
      el("span", { class: "pos" }, `${i + 1}.`),
      el("a", { class: "title", href: `/ui/programmes/${encodeURIComponent(item.programme_id)}` }, item.title),
      item.status === "published" ? null : el("span", { class: "badge warn" }, t(`lists.programme.${item.status}`)),
      readOnly ? null : el("span", { class: "buttons" },
        el("button", { type: "button", class: "secondary small", "data-act": "up", disabled: i === 0,
          "aria-label": `${t("lists.up")}：${item.title}`, onclick: () => move(i, i - 1, "up") }, "↑ ", t("lists.up")),
        el("button", { type: "button", class: "secondary small", "data-act": "down", disabled: i === draft.items.length - 1,
          "aria-label": `${t("lists.down")}：${item.title}`, onclick: () => move(i, i + 1, "down") }, "↓ ", t("lists.down")),
        el("button", { type: "button", class: "secondary small", "data-act": "remove",
          "aria-label": `${t("lists.remove")}：${item.title}`, onclick: () => remove(i) }, t("lists.remove"))));
    if (!readOnly) dragAndDrop(li, i);
    return li;
  }));
  if (focus) {
    const [index, act] = focus;
    const li = ol.children[Math.min(index, ol.children.length - 1)];
    const buttons = li ? [...li.querySelectorAll("button")] : [];
    // Keep focus on the same button so pressing Enter again keeps moving; at an edge, its neighbour.
    (buttons.find((b) => b.dataset.act === act && !b.disabled) || buttons.find((b) => !b.disabled))?.focus();
  }
}

function move(from, to, act) {
  if (to < 0 || to >= draft.items.length || from === to) return;
  const [item] = draft.items.splice(from, 1);
  draft.items.splice(to, 0, item);
  touched();
  renderItems(act ? [to, act] : null);
  live.textContent = tf("lists.moved", { title: item.title, n: to + 1 });
}

function remove(i) {
  const [item] = draft.items.splice(i, 1);
  touched();
  renderItems([i, "remove"]);
  live.textContent = tf("lists.removed", { title: item.title });
  refreshResults();
}

let dragFrom = null;

/** HTML5 drag and drop: dropping onto an item puts the dragged one in its place. */
function dragAndDrop(li, index) {
  li.addEventListener("dragstart", (e) => {
    dragFrom = index;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", li.dataset.id); // Firefox starts no drag without data
    li.classList.add("dragging");
  });
  li.addEventListener("dragend", () => { dragFrom = null; li.classList.remove("dragging"); });
  li.addEventListener("dragover", (e) => {
    if (dragFrom === null) return;
    e.preventDefault(); // allows the drop
    e.dataTransfer.dropEffect = "move";
    li.classList.add("over");
  });
  li.addEventListener("dragleave", () => li.classList.remove("over"));
  li.addEventListener("drop", (e) => {
    e.preventDefault();
    li.classList.remove("over");
    if (dragFrom !== null) move(dragFrom, index, null);
    dragFrom = null;
  });
}

// --- finding programmes ------------------------------------------------------------------------------

let lastHits = [];

function searchBox() {
  const input = el("input", { type: "search", id: "find", name: "q", maxlength: 200, placeholder: t("lists.search_example") });
  const form = el("form", { role: "search", class: "find", onsubmit: async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    const found = await attempt(() => api(`/api/v1/search?${new URLSearchParams({ q, per_page: "20" })}`));
    if (!found) return;
    lastHits = found.hits;
    refreshResults();
  } },
  el("label", { for: "find" }, t("lists.search")),
  el("div", { class: "row" }, input, el("button", { type: "submit" }, t("lists.search_go"))),
  el("ul", { id: "results", class: "results", "aria-live": "polite" }));
  return form;
}

function refreshResults(focusAfter = null) {
  const ul = document.getElementById("results");
  if (!ul) return;
  const inList = new Set(draft.items.map((i) => i.programme_id));
  if (!lastHits.length) {
    ul.replaceChildren(el("li", { class: "muted" }, t("lists.no_results")));
    return;
  }
  ul.replaceChildren(...lastHits.map((hit, i) => {
    const p = hit.programme;
    const has = inList.has(p.id);
    return el("li", {},
      el("span", { class: "title" }, marked(hit.title_html)),
      el("span", { class: "muted small" }, ` ${page.lang === "zh" ? p.category.name_zh : p.category.name_en}`),
      el("button", { type: "button", class: "secondary small", disabled: has, "data-index": i,
        "aria-label": `${has ? t("lists.added") : t("lists.add")}：${p.title}`,
        onclick: () => add(p, i) }, has ? t("lists.added") : t("lists.add")));
  }));
  if (focusAfter !== null) {
    const next = [...ul.querySelectorAll("button")].find((b) => !b.disabled && Number(b.dataset.index) > focusAfter);
    (next || document.getElementById("find")).focus();
  }
}

function add(p, index) {
  if (draft.items.some((i) => i.programme_id === p.id)) return;
  draft.items.push({ programme_id: p.id, title: p.title, status: p.status });
  touched();
  renderItems();
  live.textContent = tf("lists.added_one", { title: p.title });
  refreshResults(index);
}

// --- saving and status -------------------------------------------------------------------------------

async function save() {
  const saved = await attempt(() => api(`/api/v1/study-lists/${current.id}`, { method: "PATCH", json: {
    title: draft.title.trim(), starts_on: draft.starts_on, ends_on: draft.ends_on,
    expected_hours: Number(draft.expected_hours || 0), regions: draft.regions,
    programme_ids: draft.items.map((i) => i.programme_id),
  } }));
  if (!saved) return false;
  show(saved);
  flash(t("lists.saved"), "info");
  await loadLists();
  return true;
}

async function publish() {
  const ok = await confirmAction({
    title: t("lists.publish_title"),
    message: tf("lists.publish_confirm", { period: period(draft), regions: regionText(draft.regions), n: draft.items.length }),
    confirm: t("lists.publish"),
  });
  if (!ok || (dirty && !(await save()))) return; // what is published is what is on the screen
  const done = await attempt(() => api(`/api/v1/study-lists/${current.id}/publish`, { method: "POST" }));
  if (!done) return;
  show(done);
  flash(t("lists.published"), "info");
  await loadLists();
}

async function archive() {
  const ok = await confirmAction({ title: t("lists.archive_title"), message: t("lists.archive_confirm"), confirm: t("lists.archive") });
  if (!ok) return;
  const done = await attempt(() => api(`/api/v1/study-lists/${current.id}/archive`, { method: "POST" }));
  if (!done) return;
  show(done);
  flash(t("lists.archived"), "info");
  await loadLists();
}

async function close() {
  if (dirty && !(await confirmAction({ title: t("lists.discard_title"), message: t("lists.discard"), confirm: t("lists.discard_ok") }))) return;
  current = draft = null;
  dirty = false;
  history.replaceState(null, "", location.pathname);
  document.getElementById("editor").hidden = true;
  document.getElementById("lists-h").focus();
}

window.addEventListener("beforeunload", (e) => {
  if (dirty) e.preventDefault(); // the browser asks before unsaved changes are lost
});

root.replaceChildren(
  el("datalist", { id: "known-regions" }),
  listsSection(),
  el("section", { class: "card", id: "create", hidden: true, "aria-labelledby": "create-h" }),
  el("section", { class: "card", id: "editor", hidden: true, "aria-labelledby": "editor-h" }));
document.getElementById("lists-h").tabIndex = -1;
loadKnownRegions(); // suggestions: the regions of registered sites and their parents
await loadLists();
const wanted = new URLSearchParams(location.search).get("list");
if (wanted && /^\d+$/.test(wanted)) await openList(Number(wanted));
