// A modal question before an action that changes what sites see (publish, withdraw, archive).
// A <dialog> rather than window.confirm: it speaks the page's language, can ask for a reason, and
// keeps keyboard focus inside until answered (Esc cancels).
import { el, publicationRegion, regionField, t } from "/static/app.js";

let seq = 0;

/** Resolves to null when cancelled, else { reason, region } (reason "" unless `reason` asked for one;
 * region: `region` is the starting value of a publication region field (app.regionField), asked for
 * when given, its answer as app.publicationRegion reads it). */
export function confirmAction({ title, message, confirm, reason = null, region = null }) {
  const id = `confirm-${++seq}`;
  const before = document.activeElement;
  return new Promise((resolve) => {
    const field = reason ? el("textarea", { name: "reason", rows: 2, maxlength: 500 }) : null;
    const where = region !== null ? regionField(`${id}-region`, region) : null;
    const ok = el("button", { type: "submit", value: "ok", autofocus: !field }, confirm); // the region comes filled in
    const dialog = el("dialog", { class: "confirm", "aria-labelledby": `${id}-h`, "aria-describedby": `${id}-p` });
    const cancel = el("button", { type: "button", class: "secondary", onclick: () => dialog.close("cancel") },
      t("common.cancel"));
    dialog.append(el("form", { method: "dialog" },
      el("h2", { id: `${id}-h` }, title),
      el("p", { id: `${id}-p` }, message),
      where,
      field ? el("label", {}, reason, field) : null,
      el("div", { class: "actions" }, ok, cancel)));
    dialog.addEventListener("close", () => {
      const answer = dialog.returnValue === "ok" ? {
        reason: field ? field.value.trim() : "",
        region: where ? publicationRegion(dialog.querySelector(`#${id}-region`)) : null,
      } : null;
      dialog.remove();
      if (before instanceof HTMLElement && before.isConnected) before.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
