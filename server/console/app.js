// The console's shell: client-side routes (every view has its own URL under /ui), the
// navigation, the API key dialog and the tenant choice for keys limited to several tenants.
// Each page module exports `render(main, ctx)`, which resolves once its first data is shown.

import { api, h, fill, key, tenant, hooks, notice, explainError, aborted } from "./lib.js";
import * as overview from "./overview.js";
import * as audit from "./audit.js";
import * as chains from "./chains.js";
import * as held from "./held.js";
import * as providers from "./providers.js";
import * as rules from "./rules.js";
import * as tail from "./tail.js";

const PAGES = [
  { path: /^\/ui\/overview$/, page: overview.render, name: "overview", title: "Overview" },
  { path: /^\/ui\/audit$/, page: audit.render, name: "audit", title: "Audit" },
  { path: /^\/ui\/audit\/(.+)$/, page: audit.renderTrail, name: "trail", nav: "audit", title: "Trail" },
  { path: /^\/ui\/chains$/, page: chains.render, name: "chains", title: "Chains" },
  { path: /^\/ui\/chains\/(.+)$/, page: chains.renderChain, name: "chain", nav: "chains", title: "Chain" },
  { path: /^\/ui\/held$/, page: held.render, name: "held", title: "Held state" },
  { path: /^\/ui\/providers$/, page: providers.render, name: "providers", title: "Providers" },
  { path: /^\/ui\/rules$/, page: rules.render, name: "rules", title: "Rules" },
  { path: /^\/ui\/tail$/, page: tail.render, name: "tail", title: "Live tail" },
];

const main = document.getElementById("main");
const status = document.getElementById("status");
let current = null;
let identity = { keys: false, tenants: null };

/** The shared context pages get: the URL's query, the page's abort signal, the tenant. */
function context(match, controller) {
  const params = new URLSearchParams(location.search);
  return {
    match,
    params,
    signal: controller.signal,
    identity,
    // The tenant reads are limited to: the one chosen, for a key of several tenants.
    tenant: identity.tenants && identity.tenants.length > 1 ? tenant.get() || identity.tenants[0] : "",
    /** Writes filters into the URL (without a new history entry), so the view can be shared. */
    setQuery(values, push = false) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
      const url = `${location.pathname}${q.toString() ? `?${q}` : ""}`;
      if (push) history.pushState(null, "", url);
      else history.replaceState(null, "", url);
    },
    navigate,
  };
}

async function route() {
  if (location.pathname === "/ui" || location.pathname === "/ui/") {
    history.replaceState(null, "", "/ui/overview");
  }
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const found = PAGES.map((p) => ({ p, m: location.pathname.match(p.path) })).find((x) => x.m);
  document.documentElement.dataset.ready = "";
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", found && a.dataset.page === (found.p.nav || found.p.name));
  }
  fill(main);
  if (!found) {
    document.title = "Acteon console";
    fill(main, notice("error", `No page at ${location.pathname}.`));
    markReady("none");
    return;
  }
  document.title = `${found.p.title} · Acteon`;
  document.documentElement.dataset.page = found.p.name;
  try {
    await found.p.page(main, context(found.m, controller));
  } catch (error) {
    if (aborted(error) || controller.signal.aborted) return;
    main.append(notice("error", explainError(error)));
  }
  if (current === controller) markReady(found.p.name);
}

/** Tells whoever watches (the browser tests, a person timing it) that the page is shown. */
function markReady(name) {
  window.__acteon = { page: name, readyAt: performance.now() };
  document.documentElement.dataset.ready = name;
}

export function navigate(url) {
  history.pushState(null, "", url);
  route();
}

// Links inside the console are followed without reloading the page.
document.addEventListener("click", (event) => {
  const a = event.target.closest("a[href]");
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  // getAttribute: an SVG link's `href` property is not a string.
  const url = new URL(a.getAttribute("href"), location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/ui")) return;
  event.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search + url.hash);
});
window.addEventListener("popstate", route);

// The key dialog: asked for when the API answers 401, or from the header's key button.
const dialog = document.getElementById("key-dialog");
const keyInput = document.getElementById("key-input");
const keyMessage = document.getElementById("key-message");
hooks.needKey = (error) => {
  keyMessage.textContent =
    error?.code === "api_key_unknown" ? "This key is not known to the server." : "This server needs an API key.";
  if (!dialog.open) {
    keyInput.value = "";
    dialog.showModal();
  }
};
document.getElementById("key-button").addEventListener("click", () => {
  keyMessage.textContent = key.get() ? "A key is in use. Enter another, or leave it empty to forget it." : "Enter an API key.";
  keyInput.value = "";
  dialog.showModal();
});
document.getElementById("key-form").addEventListener("submit", async () => {
  key.set(keyInput.value.trim());
  tenant.set("");
  await whoami();
  route();
});

/** What the key may see, shown in the header (with a tenant choice for several tenants). */
async function whoami() {
  try {
    identity = await api("/v1/console/whoami");
  } catch (error) {
    identity = { keys: true, tenants: null };
    if (error.status !== 401) status.replaceChildren(explainError(error));
    return;
  }
  const tenants = identity.tenants;
  const parts = [];
  if (!identity.keys) parts.push(h("span", { class: "muted" }, "no keys: every tenant"));
  else if (!tenants) parts.push(h("span", { class: "muted" }, "key: every tenant"));
  else if (tenants.length === 1) parts.push(h("span", { class: "muted", id: "key-tenants" }, `key: tenant ${tenants[0]}`));
  else {
    const select = h(
      "select",
      { id: "tenant-select", "aria-label": "tenant", onchange: (e) => (tenant.set(e.target.value), route()) },
      tenants.map((t) => h("option", { value: t, selected: t === tenant.get() }, t))
    );
    parts.push(h("span", { class: "muted" }, "tenant "), select);
  }
  status.replaceChildren(...parts);
}

// A server with keys and no key given yet: ask first, rather than after a refused call.
if (document.documentElement.dataset.keys === "yes" && !key.get()) {
  keyMessage.textContent = "This server needs an API key.";
  dialog.showModal();
} else {
  await whoami();
  route();
}
