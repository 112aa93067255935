// Shared by every page: the page's data, its words, calls to the JSON API, safe DOM building.
// Pages import what they need: import { api, t, el, flash } from "/static/app.js";

export const page = JSON.parse(document.getElementById("page-data").textContent);

/** The word for `key` in the page's language (templates and scripts share one dictionary). */
export function t(key) {
  return page.words[key] ?? key;
}

/** t() with {name} placeholders filled: tf("x.shown", { from: 1, to: 20 }). One pass over the word, so a
 * value that itself holds "{n}" (a search, a title) stays as it is; a placeholder without a value stays. */
export function tf(key, values) {
  return t(key).replace(/\{(\w+)\}/g, (m, k) => (Object.hasOwn(values, k) ? String(values[k]) : m));
}

/** A caller's name as the server stores it (audit log, study records), as a reader reads it: a
 * site's ("site hb-xt-0012") in the page's language, a person's as it is. As kit.caller.caller_text. */
export function callerName(name) {
  const site = /^site (.+)$/.exec(name ?? "");
  return site ? tf("common.caller_site", { code: site[1] }) : name;
}

/** A number as the API rounds it, without trailing zeros (JavaScript prints 7.0 as 7): class hours to
 * two places (7, 7.33), minutes to one (55, 42.5). */
export const classHours = (value) => String(Number(value.toFixed(2)));
export const minutesRounded = (value) => String(Number(value.toFixed(1)));

/** A form field: the label (for the control's id), the control, and help under it if given (its id
 * `${id}-help`, for the control's aria-describedby). */
export function field(id, label, control, help = null) {
  return el("div", { class: "field" },
    el("label", { for: id }, label),
    control,
    help ? el("p", { id: `${id}-help`, class: "muted small" }, help) : null);
}

/** Where the last page of `total` rows starts, `limit` to a page: an address past the end goes there. */
export const lastOffset = (total, limit) => Math.max(0, Math.floor((total - 1) / limit) * limit);

const pagers = new WeakMap(); // a pager's box -> its parts, kept between pages (the focus stays on them)

/** The pager in `box`: the range ("第 a–b 个，共 n 个" in the page's own `words.range`; its values are
 * from, to, total, page and pages), then previous and next buttons (`words.prev`, `words.next`,
 * data-key prev/next), disabled at the ends. Its parts stay from page to page; when the button that
 * had the focus becomes disabled the focus goes to the other one, or to `focusFallback` when both are.
 * `onPage(offset)` loads another page. `shown`: the rows on this page. Options: `attrs` ({ range, prev,
 * next }: ids, aria-live; the range is class "muted" unless given), `hidden` (the box left empty: the
 * page's own rule, such as all on one page), `zeroRange` (the range says 0–0 of 0 instead of nothing),
 * `rangeBetween` (the range between the buttons), `reach` (rows that can be paged to at most). */
export function pager(box, {
  offset, limit, total, shown, words, onPage, focusFallback = null, attrs = {},
  hidden = false, zeroRange = false, rangeBetween = false, reach = Infinity,
}) {
  const focused = document.activeElement;
  if (hidden) {
    pagers.delete(box);
    box.replaceChildren();
    return box;
  }
  let parts = pagers.get(box);
  if (!parts || parts.range.parentNode !== box) {
    const button = (key) => el("button", { type: "button", class: "secondary", dataset: { key }, ...attrs[key],
      onclick: () => parts.onPage(parts.to[key]) }, t(words[key]));
    parts = { range: el("span", { class: "muted", ...attrs.range }), prev: button("prev"), next: button("next") };
    pagers.set(box, parts);
    box.replaceChildren(...(rangeBetween ? [parts.prev, parts.range, parts.next] : [parts.range, parts.prev, parts.next]));
  }
  const { prev, next } = parts;
  parts.onPage = onPage;
  parts.to = { prev: Math.max(0, offset - limit), next: offset + limit };
  parts.range.textContent = total || zeroRange ? tf(words.range, {
    from: total ? offset + 1 : 0, to: Math.min(offset + shown, total), total,
    page: Math.floor(offset / limit) + 1, pages: Math.max(1, Math.ceil(total / limit)),
  }) : "";
  prev.disabled = offset === 0;
  next.disabled = offset + limit >= Math.min(total, reach);
  // the button pressed is disabled now (the first or last page): the keyboard's place moves to the
  // other one (or the fallback), not to <body>
  if ((focused === prev || focused === next) && focused.disabled) {
    const other = focused === prev ? next : prev;
    (other.disabled ? focusFallback : other)?.focus();
  }
  return box;
}

// Administrators and sites are in China: times are Beijing time whatever the browser's zone.
const BEIJING = new Intl.DateTimeFormat("en-CA", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

/** An API time (ISO 8601) as "YYYY-MM-DD HH:MM[:SS]" in Beijing time. */
export function beijing(iso, { seconds = false } = {}) {
  const p = Object.fromEntries(BEIJING.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
}

/** A Beijing calendar day ("YYYY-MM-DD", plus some days) as its midnight at +08:00, for API filters. */
export function beijingMidnight(day, plusDays = 0) {
  const [y, m, d] = day.split("-").map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + plusDays));
  return `${next.toISOString().slice(0, 10)}T00:00:00+08:00`;
}

/** An element with attributes and children; text is always text (never parsed as HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element (charts), as el() makes HTML ones: attributes, then children; text is always text. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** A message at the top of the page; errors stay until the next action, others fade. */
export function flash(message, kind = "error") {
  const box = document.getElementById("flash");
  box.textContent = message;
  box.className = kind;
  box.hidden = false;
  if (kind !== "error") setTimeout(() => { if (box.textContent === message) box.hidden = true; }, 4000);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The page's language for the server's answers: its refusals come in the words the page shows (the
 * language cookie, sent with every call, says the same once a choice was made; this covers the rest). */
export const LANGUAGE = { "Accept-Language": page.lang === "en" ? "en" : "zh-CN" };

/** Call the JSON API with this browser's login. `json` or `form` is the body; the CSRF token goes
 * with every unsafe method. Errors carry the server's message (which says what to do). */
export async function api(path, { method = "GET", json, form, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...LANGUAGE, ...headers }, credentials: "same-origin", signal };
  if (page.csrf && !["GET", "HEAD"].includes(method)) init.headers["X-CSRF-Token"] = page.csrf;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", t("common.network"));
  }
  if (response.status === 401 && location.pathname !== "/login") {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    // Not the server's own refusal (a proxy's page, a gateway's time-out): no English status text.
    const message = (body && body.message) || tf("common.error_status", { status: response.status });
    throw new ApiError(response.status, body && body.error, message);
  }
  return body;
}

/** Whether `region` is the administrator's scope or lies below it (page.scope: /auth/session's region;
 * '' the whole network), segment by segment as kit.regions.within: "河北省/邢台" holds no "河北省/邢台市". */
export function withinScope(region) {
  const scope = page.scope || "";
  return !scope || region === scope || region.startsWith(`${scope}/`);
}

/** Every region that has sites, and their parents down from the administrator's scope (never one
 * above it), as the suggestions (<option>s) of a region field's datalist. Best effort: without them the
 * field still takes any region. */
export async function loadKnownRegions(list = document.getElementById("known-regions")) {
  // Village level gives one row per region that has sites; their parents are suggested too.
  const data = await api("/api/v1/fleet?level=5").catch(() => null);
  const paths = new Set();
  for (const { region } of data ? data.regions : []) {
    const parts = region.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) paths.add(parts.slice(0, i).join("/"));
  }
  for (const path of paths) if (!withinScope(path)) paths.delete(path);
  const known = [...paths].sort();
  if (list) list.replaceChildren(...known.map((p) => el("option", { value: p })));
  return known;
}

/** A programme's publication region as people read it: its path, or 全网 for the whole network. */
export const regionText = (region) => region || t("common.whole_network");

/** A publication region field (a programme's: made for, published to) with its suggestions: the server's
 * page.regions, the regions with sites inside page.region_bound (an administrator's scope, a producer's
 * department's region), so that nothing outside it is offered. Left empty it means the bound:
 * `publicationRegion(input)` reads it so. */
export function regionField(id, value = "") {
  const list = `${id}-list`;
  const input = el("input", { id, name: "region", list, value, maxlength: 500, autocomplete: "off",
    placeholder: regionText(page.region_bound), "aria-describedby": `${id}-help` });
  return [
    field(id, t("common.region"), input, tf("common.region_help", { bound: regionText(page.region_bound) })),
    el("datalist", { id: list }, (page.regions || []).filter(Boolean).map((r) => el("option", { value: r }))),
  ];
}

export const publicationRegion = (input) => input.value.trim() || page.region_bound || "";


export async function attempt(action) {
  try {
    return await action();
  } catch (err) {
    flash(err.message || t("common.error"));
    return undefined;
  }
}

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    await attempt(() => api("/auth/logout", { method: "POST" }));
    location.assign("/login");
  });
}
