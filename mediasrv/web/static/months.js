// Beijing months (YYYY-MM) for the study pages: this month, the month before or after, and the month
// control both pages show (previous, a month field, next).
import { beijing, el, flash, t, tf } from "/static/app.js";

export const isMonth = (text) => /^\d{4}-(0[1-9]|1[0-2])$/.test(text ?? "");

/** The month a page's address asks for, or "" when it asks for none. One that is not a month is said
 * (a mistyped bookmark or a hand-edited link), so the reader knows the page shows another month. */
export function addressMonth(q) {
  const month = q.get("month") || "";
  if (isMonth(month)) return month;
  if (month) flash(tf("compliance.address_month", { month }));
  return "";
}

/** This month in Beijing, whatever the browser's zone (the server counts sessions by Beijing day). */
export const thisMonth = () => beijing(new Date().toISOString()).slice(0, 7);

export function shiftMonth(month, n) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1 + n, 1)).toISOString().slice(0, 7);
}

/** Previous, the month field (id "month"), Show, next. `go(month)` gets a valid month; the field is
 * set first, so that it always says which month is shown. */
export function monthNav(month, go) {
  // type=month: a picker where the browser has one; elsewhere a text field, hence pattern and example
  const input = el("input", {
    type: "month", id: "month", name: "month", value: month, required: true, pattern: "\\d{4}-\\d{2}",
    placeholder: "2026-11", autocomplete: "off",
  });
  const move = (n) => {
    if (!isMonth(input.value)) input.value = thisMonth();
    input.value = shiftMonth(input.value, n);
    go(input.value);
  };
  return el("form", {
    class: "months", "aria-label": t("compliance.month"),
    onsubmit: (e) => {
      e.preventDefault();
      if (isMonth(input.value)) go(input.value);
      else flash(t("compliance.bad_month"));
    },
  },
  el("button", { type: "button", class: "secondary", id: "prev-month", onclick: () => move(-1) }, `‹ ${t("compliance.prev_month")}`),
  el("label", { for: "month" }, t("compliance.month")),
  input,
  el("button", { type: "submit" }, t("compliance.show_month")),
  el("button", { type: "button", class: "secondary", id: "next-month", onclick: () => move(1) }, `${t("compliance.next_month")} ›`));
}
