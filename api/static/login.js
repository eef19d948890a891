// The sign-in form: posts the user and password as JSON to POST /api/v1/auth/login, which sets the session
// and CSRF cookies; then back to the page that sent us here (a local path only).
"use strict";

const form = document.getElementById("login");
const error = document.getElementById("login-error");
const params = new URLSearchParams(window.location.search);
const next = (params.get("next") || "/").startsWith("/") && !(params.get("next") || "").startsWith("//")
  ? params.get("next") || "/"
  : "/";
document.getElementById("next").value = next;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = { user: document.getElementById("user").value, password: document.getElementById("password").value };
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.ok) {
    window.location.assign(next);
    return;
  }
  const answer = await response.json().catch(() => null);
  error.textContent = (answer && answer.message) || `${response.status} ${response.statusText}`;
  error.hidden = false;
});
