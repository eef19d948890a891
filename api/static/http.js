// Talking to the server's own /api/v1 from every page (same origin, session cookie), and who the caller is.
"use strict";

// The CSRF cookie set at sign-in, copied into the header every unsafe request of a session carries.
function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("conveyor_csrf="));
  return found ? decodeURIComponent(found.slice("conveyor_csrf=".length)) : "";
}

let pending = 0; // requests under way: the progress bar shows while there is one

// fetch + JSON; a 401 goes to the sign-in form and back; any other error throws the API's message (with the
// answer's status and body).
async function request(path, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const headers = { ...(options.headers || {}) };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  const progress = document.getElementById("progress");
  pending++;
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
    if (--pending === 0 && progress) progress.hidden = true;
  }
}

// ---- who am I, and what may I do (the server checks every request anyway: this only shapes the buttons)

const ROLES = ["viewer", "runner", "developer", "admin"];
let mePromise = null;

// GET /api/v1/me, asked once per page: {name, kind, bindings: [{role, namespace}], groups}; null if unknown.
function whoAmI() {
  if (!mePromise) mePromise = request("/api/v1/me").catch(() => null);
  return mePromise;
}

// A binding's namespace prefix covers the namespace: equal, a parent on a dot, or "" (every namespace).
function covers(prefix, namespace) {
  return prefix === "" || namespace === prefix || namespace.startsWith(prefix + ".");
}

// Whether `me` holds `role` (or a higher one) on `namespace`; unknown callers are let through to the server.
function allows(me, role, namespace) {
  if (!me) return true;
  const needed = ROLES.indexOf(role);
  return (me.bindings || []).some((b) => ROLES.indexOf(b.role) >= needed && covers(b.namespace || "", namespace || ""));
}

// Where one execution is shown (the Execution page), and its task runs on the Task Runs page.
function executionHref(id) {
  return "/execution.html?id=" + encodeURIComponent(id);
}

function taskRunsHref(executionId) {
  return "/?executionId=" + encodeURIComponent(executionId);
}
