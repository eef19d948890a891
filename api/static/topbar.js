// The top bar every page shares: the brand, the pages, who is signed in (and Sign out), the backends' health.
// A page gives `<header id="topbar" class="topbar" data-page="NAME"></header>`; a page that refreshes itself
// also `<body data-refresh="SECONDS">`, and gets the auto-refresh selector (`#refresh`) and `#updated` here.
// It needs format.js (el) and http.js (request, whoAmI).
"use strict";

const PAGES = [
  { name: "taskruns", href: "/", label: "Task Runs" },
  { name: "executions", href: "/executions", label: "Executions" },
  { name: "logs", href: "/logs", label: "Logs" },
  { name: "flows", href: "/flows", label: "Flows" },
  { name: "namespaces", href: "/namespaces", label: "Namespaces" },
];

function renderTopbar() {
  const bar = document.getElementById("topbar");
  if (!bar) return;
  const active = bar.dataset.page;
  const brand = el("a", { class: "brand", href: "/" },
    el("img", { src: "/static/favicon.svg", alt: "", width: 26, height: 26 }), el("span", {}, "Conveyor"));
  const nav = el("nav", { "aria-label": "pages" },
    PAGES.map((p) => el("a", { href: p.href, class: p.name === active ? "active" : null, "aria-current": p.name === active ? "page" : null }, p.label)),
    el("a", { href: "/docs", target: "_blank", rel: "noopener" }, "API"));
  const right = el("div", { class: "topbar-right" });
  const me = el("span", { id: "me", class: "me", title: "signed in as" });
  const logout = el("button", { id: "logout", class: "logout", type: "button", hidden: true }, "Sign out");
  const health = el("span", { id: "health", class: "health", title: "backends" },
    el("span", { class: "dot" }), el("span", { class: "label" }, "…"));
  right.append(me, logout, health);
  if (document.body.dataset.refresh !== undefined) right.append(refreshControl(), el("span", { id: "updated", class: "muted small" }));
  bar.replaceChildren(brand, nav, right);
  logout.addEventListener("click", signOut);
  whoAmI().then((who) => {
    if (!who) return;
    me.textContent = who.name;
    logout.hidden = who.kind !== "user" && who.kind !== "oidc";
  });
  loadHealth();
  setInterval(loadHealth, 30000);
}

function refreshControl() {
  const every = [["0", "off"], ["5", "5 s"], ["10", "10 s"], ["30", "30 s"], ["60", "1 min"]];
  return el("label", { class: "refresh", title: "refresh the view automatically" },
    el("span", { class: "refresh-icon", "aria-hidden": "true" }, "⟳"),
    el("select", { id: "refresh", "aria-label": "auto-refresh" }, every.map(([value, text]) => el("option", { value }, text))));
}

// POST /api/v1/auth/logout, then the sign-in form.
async function signOut() {
  await request("/api/v1/auth/logout", { method: "POST" }).catch(() => null);
  window.location.assign("/login");
}

async function loadHealth() {
  const node = document.getElementById("health");
  let status = "DOWN", detail = "the server does not answer";
  try {
    const response = await fetch("/api/v1/health");
    const body = await response.json();
    status = body.status;
    detail = `Elasticsearch ${body.elasticsearch.status} · Kafka ${body.kafka.status}`;
  } catch (_) { /* stays DOWN */ }
  node.className = "health " + status.toLowerCase();
  node.querySelector(".label").textContent = status === "UP" ? "healthy" : status.toLowerCase();
  node.title = detail;
}

renderTopbar();
