// What the region pages (sites, compliance) share: links that change the view in place, a region
// row's name relative to the region shown, the 省/市/县/乡/村 breadcrumb, and re-rendering that keeps
// the keyboard's place.
import { el, t, tf } from "/static/app.js";

/** A link that changes the view without reloading the page (`follow()`); a real href, so it can also be
 * opened in a new tab (ctrl/cmd/shift or another button: the browser's own way). */
export function viewLink(href, text, attrs, follow) {
  return el("a", {
    href,
    ...attrs,
    onclick: (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      follow();
    },
  }, text);
}

/** A region row's name relative to the region shown: its last part, or what a special row means.
 * `words`: the page's words ("sites", "compliance"), which have "no_region" and "here". */
export function regionName(row, shown, words) {
  if (row.region === "") return t(`${words}.no_region`);
  if (row.region === shown) return tf(`${words}.here`, { name: row.region.split("/").at(-1) });
  return row.region.split("/").at(-1);
}

/** The breadcrumb's items for `region` ("河北省/邢台市"): all regions and each level above it as links
 * made by `link(path, name, attrs)`, the region itself the current page. */
export function crumbs(region, allRegions, link) {
  const parts = region ? region.split("/") : [];
  const trail = [["", allRegions], ...parts.map((p, i) => [parts.slice(0, i + 1).join("/"), p])];
  return trail.map(([path, name], i) => el("li", {},
    i === trail.length - 1
      ? el("span", { "aria-current": "page" }, name)
      : link(path, name, { dataset: { key: `crumb:${path}` } })));
}

/** Re-render without losing the keyboard's place: the focused control is found again in `root` by its
 * data-key. */
export function keepFocus(root, render) {
  const key = document.activeElement?.dataset?.key;
  render();
  if (key) root.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}
