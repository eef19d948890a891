// Talking to the server's own /api/v1 from the pages other than Task Runs (same origin, session cookie).
"use strict";

// The CSRF cookie set at sign-in, copied into the header every unsafe request of a session carries.
function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("conveyor_csrf="));
  return found ? decodeURIComponent(found.slice("conveyor_csrf=".length)) : "";
}

// fetch + JSON; a 401 goes to the sign-in form and back; any other error throws the API's message.
async function request(path, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const headers = { ...(options.headers || {}) };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  const progress = document.getElementById("progress");
  if (progress) progress.hidden = false;
  try {
    const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new Error("signed out");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((body && body.message) || `${response.status} ${response.statusText}`);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  } finally {
    if (progress) progress.hidden = true;
  }
}
