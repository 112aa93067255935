// Shared by every page: the page's data, its words, calls to the JSON API, safe DOM building.
// Pages import what they need: import { api, t, el, flash } from "/static/app.js";

export const page = JSON.parse(document.getElementById("page-data").textContent);

/** The word for `key` in the page's language (templates and scripts share one dictionary). */
export function t(key) {
  return page.words[key] ?? key;
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

/** Call the JSON API with this browser's login. `json` or `form` is the body; the CSRF token goes
 * with every unsafe method. Errors carry the server's message (which says what to do). */
export async function api(path, { method = "GET", json, form, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin", signal };
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
    const message = (body && body.message) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, body && body.error, message);
  }
  return body;
}

/** Run an action, showing its error (if any) instead of failing silently. */
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
