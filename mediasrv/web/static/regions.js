// What the region pages (sites, compliance) share: links that change the view in place, a region
// row's name relative to the region shown, the 省/市/县/乡/村 breadcrumb, and re-rendering that keeps
// the keyboard's place.
import { el, page, svg, t, tf, withinScope } from "/static/app.js";

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

/** The breadcrumb's items for `region` ("河北省/邢台市"): the administrator's scope (`allRegions` when it
 * is the whole network, else its path) and each level between it and the region as links made by
 * `link(path, name, attrs)`, the region itself the current page. Nothing above the scope is offered: a
 * region outside it (the page's "" before the server's answer) shows the scope alone. */
export function crumbs(region, allRegions, link) {
  const scope = page.scope || "";
  const inside = withinScope(region) ? region : scope;
  const parts = inside ? inside.split("/") : [];
  const top = scope ? scope.split("/").length : 0;
  const trail = [[scope, scope || allRegions],
    ...parts.slice(top).map((p, i) => [parts.slice(0, top + i + 1).join("/"), p])];
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

export const MAX_BARS = 40; // a county has a few dozen villages at most; the table always has every row
export const pct = (value) => (value === null || value === undefined ? "—" : `${value.toFixed(1)}%`);

/** Two percentages per region as paired horizontal bars, built with DOM calls (nothing parsed);
 * role="img" with a label that says every number, a <title> per row for the mouse; the page's table
 * holds the same numbers. `bars`: [[css class, legend, row => percent], two of them];
 * `name(row)` and `summary(row)` say each row; `words`: the page's prefix for chart_title,
 * chart_more and chart_note. Fills #chart and #chart-note. */
export function pairedBars(regions, { bars, name, summary, words }) {
  const box = document.getElementById("chart");
  const note = document.getElementById("chart-note");
  const rows = regions.slice(0, MAX_BARS);
  if (rows.length === 0) {
    box.replaceChildren();
    note.textContent = "";
    return;
  }
  const labelW = 190, barW = 440, rowH = 46, top = 34, width = labelW + barW + 70;
  const height = top + rows.length * rowH + 24;
  const x = (percent) => labelW + (barW * (percent ?? 0)) / 100;
  const label = `${t(`${words}.chart_title`)}：${rows.map(summary).join("；")}`;
  const chart = svg("svg", { id: "chart-svg", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    svg("title", {}, label));
  // the legend: colour and words, so the bars are told apart without seeing colour
  let legendX = labelW;
  for (const [cls, legend] of bars) {
    chart.append(
      svg("rect", { x: legendX, y: 6, width: 14, height: 14, class: cls }),
      svg("text", { x: legendX + 20, y: 18, class: "legend" }, legend));
    legendX += 40 + legend.length * 14;
  }
  for (const tick of [0, 50, 100]) {
    chart.append(
      svg("line", { x1: x(tick), x2: x(tick), y1: top - 4, y2: height - 20, class: "grid" }),
      svg("text", { x: x(tick), y: height - 6, class: "tick", "text-anchor": "middle" }, `${tick}%`));
  }
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const shown = name(row);
    const bar = (value, dy, cls) => [
      svg("rect", { x: labelW, y: y + dy, width: Math.max(x(value) - labelW, value ? 1 : 0), height: 16, class: cls }),
      svg("text", { x: x(value) + 6, y: y + dy + 13, class: "value" }, pct(value)),
    ];
    chart.append(svg("g", { class: "row" },
      svg("title", {}, summary(row)),
      svg("text", { x: labelW - 8, y: y + 24, class: "label", "text-anchor": "end" },
        shown.length > 10 ? `${shown.slice(0, 9)}…` : shown),
      ...bars.flatMap(([cls, , value], k) => bar(value(row), 4 + 18 * k, cls))));
  });
  box.replaceChildren(chart);
  note.textContent = regions.length > MAX_BARS
    ? tf(`${words}.chart_more`, { n: MAX_BARS, total: regions.length }) : t(`${words}.chart_note`);
}
