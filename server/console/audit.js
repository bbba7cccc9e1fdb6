// The audit explorer: `GET /v1/audit`'s filters (namespace, tenant, provider, action type,
// outcome, rule, chain, action, time range) kept in the URL, paging by cursor, each record's
// details and payload on demand; and one action's whole trail (every record of it and of its
// chains) at /ui/audit/ACTION_ID.

import { api, plan, h, fill, link, badge, time, duration, table, section, notice, explainError, jsonView, query, idPath, OUTCOMES } from "./lib.js";

const FILTERS = ["namespace", "tenant", "provider", "action_type", "outcome", "rule", "chain_id", "action_id", "from", "to"];

export async function render(main, ctx) {
  const params = ctx.params;
  const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) || ""]));
  if (ctx.tenant && !filters.tenant) filters.tenant = ctx.tenant;
  const limit = params.get("limit") || "50";
  const cursor = params.get("cursor") || "";
  const thePlan = await plan(ctx.signal);
  const placeholder = thePlan.audit.placeholder;

  const input = (name, label, attrs = {}) =>
    h("label", {}, label, h("input", { name, value: filters[name], ...attrs }));
  const select = (name, label, options) =>
    h(
      "label",
      {},
      label,
      h("select", { name }, h("option", { value: "" }, "any"), options.map((o) => h("option", { value: o, selected: o === filters[name] }, o)))
    );
  const tenants = ctx.identity.tenants;
  const form = h(
    "form",
    { class: "filters", id: "audit-filters" },
    input("namespace", "Namespace"),
    tenants ? select("tenant", "Tenant", tenants) : input("tenant", "Tenant"),
    select("provider", "Provider", thePlan.providers.map((p) => p.name)),
    input("action_type", "Action type"),
    select("outcome", "Outcome", OUTCOMES),
    select("rule", "Rule", thePlan.rules.map((r) => r.name)),
    input("chain_id", "Chain"),
    input("action_id", "Action"),
    h("label", {}, "From (UTC)", h("input", { name: "from", type: "datetime-local", step: "1", value: localValue(filters.from) })),
    h("label", {}, "To (UTC)", h("input", { name: "to", type: "datetime-local", step: "1", value: localValue(filters.to) })),
    h(
      "label",
      {},
      "Per page",
      h("select", { name: "limit" }, ["25", "50", "100", "250", "1000"].map((n) => h("option", { value: n, selected: n === limit }, n)))
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", id: "apply-filters" }, "Apply"), link("/ui/audit", "clear"))
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = {};
    for (const [k, v] of data.entries()) next[k] = k === "from" || k === "to" ? utcValue(v) : v.trim();
    if (next.limit === "50") delete next.limit;
    ctx.navigate(`/ui/audit${query(next)}`);
  });

  const results = h("div", { id: "audit-results" });
  fill(main, h("h1", {}, "Audit"), section("Filters", form), section("Records", results));

  let page;
  try {
    page = await api(`/v1/audit${query({ ...filters, limit, cursor })}`, { signal: ctx.signal });
  } catch (error) {
    fill(results, notice("error", explainError(error)));
    return;
  }
  const here = { ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v)), limit: limit === "50" ? "" : limit };
  const pager = h(
    "div",
    { class: "actions" },
    cursor ? link(`/ui/audit${query(here)}`, "first page") : null,
    page.next_cursor ? link(`/ui/audit${query({ ...here, cursor: page.next_cursor })}`, h("span", { id: "next-page" }, "next page →")) : null,
    h("span", { class: "muted" }, `${page.records.length} record${page.records.length === 1 ? "" : "s"} on this page, oldest first`)
  );
  fill(results, recordTable(page.records, placeholder), pager);
}

/** Records as rows, each with its details and payload one click away. */
export function recordTable(records, placeholder, { showAction = true } = {}) {
  const body = h("tbody");
  const columns = [
    ["Dispatched", (r) => h("span", { class: "mono when" }, time(r.dispatched_at))],
    showAction ? ["Action", (r) => link(`/ui/audit/${idPath(r.action_id)}`, r.action_id)] : null,
    ["Tenant", (r) => r.tenant],
    ["Type", (r) => r.action_type],
    ["Outcome", (r) => badge(r.outcome)],
    ["Rule", (r) => r.rule || h("span", { class: "muted" }, "–")],
    ["Target", (r) => r.target || h("span", { class: "muted" }, "–")],
    ["Chain", (r) => (r.chain_id ? link(`/ui/chains/${idPath(r.chain_id)}`, r.details?.step ? `${r.details.step}` : "chain") : "")],
    ["Took", (r) => duration(r.duration_ms), "num"],
    ["", (r) => toggle(r, placeholder)],
  ].filter(Boolean);
  if (!records.length) return h("p", { class: "empty", id: "no-records" }, "No records match.");
  for (const r of records) {
    const row = h("tr", { "data-record": r.id, "data-outcome": r.outcome }, columns.map(([, cell, cls]) => h("td", { class: cls }, cell(r))));
    body.append(row);
  }
  return h("table", { class: "records" }, h("thead", {}, h("tr", {}, columns.map(([t, , cls]) => h("th", { class: cls }, t)))), body);
}

/** A button that shows the record's JSON in a row under it. */
function toggle(record, placeholder) {
  let open = null;
  return h(
    "button",
    {
      type: "button",
      class: "quiet",
      "aria-expanded": "false",
      onclick: (event) => {
        const row = event.target.closest("tr");
        if (open) {
          open.remove();
          open = null;
          event.target.setAttribute("aria-expanded", "false");
          return;
        }
        open = h("tr", { class: "expanded" }, h("td", { colspan: row.children.length }, jsonView(record, placeholder)));
        row.after(open);
        event.target.setAttribute("aria-expanded", "true");
      },
    },
    "JSON"
  );
}

/** One action's trail: every record of it, its chains' records, oldest first. */
export async function renderTrail(main, ctx) {
  const actionId = decodeURIComponent(ctx.match[1]);
  const scope = ctx.tenant ? { tenant: ctx.tenant } : {};
  const thePlan = await plan(ctx.signal);
  fill(main, h("h1", {}, "Trail of ", h("span", { class: "mono", id: "trail-action" }, actionId)));
  const own = await api(`/v1/audit${query({ ...scope, action_id: actionId, limit: 1000 })}`, { signal: ctx.signal });
  const records = [...own.records];
  const seen = new Set(records.map((r) => r.id));
  const chains = [...new Set(records.map((r) => r.chain_id).filter(Boolean))];
  for (const chain of chains) {
    const page = await api(`/v1/audit${query({ ...scope, chain_id: chain, limit: 1000 })}`, { signal: ctx.signal });
    for (const r of page.records) if (!seen.has(r.id)) (seen.add(r.id), records.push(r));
  }
  // Group members name their batch's record; a batch names its members.
  const batches = records.filter((r) => r.outcome === "grouped").map((r) => r.details?.group_key).filter(Boolean);
  if (!records.length) {
    main.append(notice("note", "No records of this action (yet, or not for this key's tenants)."), link("/ui/audit", "back to the audit"));
    return;
  }
  records.sort((a, b) => a.dispatched_at.localeCompare(b.dispatched_at) || a.id.localeCompare(b.id, "en", { numeric: true }));
  const first = records[0];
  main.append(
    h(
      "p",
      { class: "muted" },
      `${first.namespace} / ${first.tenant} · ${first.action_type} · ${records.length} record${records.length === 1 ? "" : "s"}`,
      chains.length ? [" · chains: ", chains.map((c) => [link(`/ui/chains/${idPath(c)}`, c), " "])] : null,
      batches.length ? [" · group ", batches.join(", "), " (", link("/ui/held", "held state"), ")"] : null
    ),
    section(
      "Timeline",
      h(
        "ol",
        { class: "timeline", id: "trail" },
        records.map((r) =>
          h(
            "li",
            { "data-outcome": r.outcome },
            h("span", { class: "mono muted when" }, time(r.dispatched_at)),
            " ",
            badge(r.outcome),
            " ",
            r.rule ? ["rule ", h("strong", {}, r.rule), " "] : null,
            r.target ? ["→ ", h("strong", {}, r.target), " "] : null,
            r.details?.step ? ["step ", h("strong", {}, r.details.step), " "] : null,
            r.details?.members ? ["members: ", r.details.members.map((m) => [link(`/ui/audit/${idPath(m)}`, m), " "])] : null,
            record(r, records.length <= 3, thePlan.audit.placeholder)
          )
        )
      )
    ),
    section("Records", recordTable(records, thePlan.audit.placeholder, { showAction: false }))
  );
}

/**
 * A record's details and payload, folded unless `open` (a short trail) or a value in it was
 * redacted (worth seeing at once).
 */
function record(r, open, placeholder) {
  const shown = { details: r.details, payload: r.payload };
  const redacted = JSON.stringify(shown).includes(JSON.stringify(placeholder));
  return h("details", { open: open || redacted }, h("summary", {}, "details and payload"), jsonView(shown, placeholder));
}

/** An RFC 3339 time as a `datetime-local` value (UTC), and back. */
function localValue(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 19);
}

function utcValue(local) {
  return local ? `${local.length === 16 ? `${local}:00` : local}Z` : "";
}
