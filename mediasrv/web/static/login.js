import { api, flash, page, t } from "/static/app.js";

const form = document.getElementById("login-form");
const button = form.querySelector("button[type=submit], button:not([type])");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  // One try at a time: a second press while the first is answered would race it, and the
  // older answer ("wrong password") could land after the newer one ("locked").
  if (button.disabled) return;
  button.disabled = true;
  const body = new FormData(form);
  try {
    await api("/auth/login", { method: "POST", form: body });
    location.assign(page.next || "/");
  } catch (err) {
    flash(err.status === 401 ? t("login.failed") : err.message);
    form.password.select();
  } finally {
    button.disabled = false;
  }
});
