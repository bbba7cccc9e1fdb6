// The landing page: decisions per second over the last five minutes (redrawn every second),
// every rule of the running plan in evaluation order with its live count, outcomes by rule and
// by provider, quota usage per tenant and the breakers at a glance. Every number links to the
// records behind it.

import { api, h, fill, link, number, badge, table, section, notice, explainError, drawRate, every, query, duration } from "./lib.js";

const SEGMENT_ORDER = ["executed", "rerouted", "chain_started", "grouped", "scheduled", "deduplicated", "throttled", "suppressed", "denied", "failed"];

export async function render(main, ctx) {
  const figures = h("div", { class: "figures" });
  const canvas = h("canvas", { class: "rate", id: "rate-chart", "aria-label": "decisions per second" });
  const rules = h("div", { id: "rule-counts" });
  const outcomes = h("div", { id: "outcomes" });
  const providers = h("div", { id: "provider-counts" });
  const quotas = h("div", { id: "quotas" });
  const breakers = h("div", { id: "breakers" });
  const problem = h("div");
  fill(
    main,
    h("h1", {}, "Overview"),
    problem,
    figures,
    section("Decisions per second, last 5 minutes", canvas),
    h(
      "div",
      { class: "wide" },
      section("Rules of the running plan, in evaluation order", rules, link("/ui/rules", "plan and playground")),
      h("div", {}, section("Outcomes", outcomes), section("Breakers", breakers, link("/ui/providers", "providers")))
    ),
    h("div", { class: "wide" }, section("Outcomes by provider", providers), section("Quota usage per tenant", quotas))
  );
  const scope = ctx.tenant ? { tenant: ctx.tenant } : {};
  let last = null;
  const showError = (error) => fill(problem, notice("error", explainError(error)));
  const redraw = () => last && drawRate(canvas, last.rate.per_second);
  window.addEventListener("resize", redraw, { signal: ctx.signal });

  const counts = async () => {
    const data = await api(`/v1/console/overview${query(scope)}`, { signal: ctx.signal });
    last = data;
    fill(
      problem,
      data.missed ? notice("note", `The counts below miss ${number(data.missed)} records, written faster than the console counted them.`) : null
    );
    showFigures(figures, data);
    drawRate(canvas, data.rate.per_second);
    showRules(rules, data);
    showOutcomes(outcomes, data.outcomes);
    showProviders(providers, data.providers);
  };
  const quotaUsage = async () => {
    const data = await api(`/v1/quotas${query(scope)}`, { signal: ctx.signal });
    fill(
      quotas,
      table(
        [
          ["Tenant", (q) => link(`/ui/audit${query({ tenant: q.tenant })}`, q.tenant)],
          ["Quota", (q) => h("span", { class: "mono" }, q.id)],
          ["Used", (q) => meter(q.usage.used, q.max_actions), "num"],
          ["", (q) => `${number(q.usage.used)} / ${number(q.max_actions)}`, "num"],
          ["Window", (q) => duration(q.window_ms), "num"],
          ["Over the limit", (q) => q.overage_behavior],
        ],
        data.quotas,
        { empty: "No quotas." }
      )
    );
  };
  const health = async () => {
    const data = await api("/v1/providers/health", { signal: ctx.signal });
    fill(
      breakers,
      h(
        "div",
        { class: "chips" },
        data.providers.map((p) =>
          link(
            "/ui/providers",
            h(
              "span",
              { class: "chip", "data-provider": p.provider },
              p.provider,
              h("span", { class: `badge s-${p.circuit_breaker_state || "none"}` }, p.circuit_breaker_state || "no breaker")
            )
          )
        )
      )
    );
  };
  // The first round is awaited (the page is ready once it is shown); then each goes on alone.
  await Promise.all([
    every(1000, counts, ctx.signal, showError),
    every(5000, quotaUsage, ctx.signal, (e) => fill(quotas, notice("error", explainError(e)))),
    every(5000, health, ctx.signal, (e) => fill(breakers, notice("error", explainError(e)))),
  ]);
}

function meter(used, limit) {
  const share = limit ? Math.min(1, used / limit) : 0;
  const bar = h("span", {});
  bar.style.width = `${(share * 100).toFixed(1)}%`;
  return h("div", { class: `meter${share >= 1 ? " full" : ""}`, title: `${(share * 100).toFixed(1)} %` }, bar);
}

function showFigures(el, data) {
  const perSecond = data.rate.per_second;
  const lastSecond = perSecond[perSecond.length - 2] ?? 0;
  const lastMinute = perSecond.slice(-61, -1).reduce((a, b) => a + b, 0);
  const o = data.outcomes;
  const finished = ["chain_completed", "chain_failed", "chain_timed_out", "chain_cancelled"].reduce((a, k) => a + (o[k] || 0), 0);
  const figure = (value, label, href) =>
    h("div", { class: "figure" }, h("div", { class: "value" }, href ? link(href, value) : value), h("div", { class: "label" }, label));
  fill(
    el,
    figure(number(lastSecond), "decisions in the last second"),
    figure(number(lastMinute), "decisions in the last minute"),
    figure(number(data.records), "audit records", "/ui/audit"),
    figure(number(Math.max(0, (o.chain_started || 0) - finished)), "chains running", "/ui/chains?status=running"),
    figure(number(o.failed || 0), "failed deliveries", "/ui/audit?outcome=failed"),
    figure(data.generation ?? "–", "plan generation", "/ui/rules")
  );
}

/** A bar of a row's outcomes: its length the row's share of the busiest row, a segment per outcome. */
function outcomeBar(outcomes, total) {
  const bar = h("div", { class: "bar", title: Object.entries(outcomes).map(([k, v]) => `${k}: ${v}`).join(", ") });
  const keys = Object.keys(outcomes).sort((a, b) => rank(a) - rank(b));
  for (const k of keys) {
    const seg = h("span", { class: `o-${k}` });
    seg.style.width = `${((outcomes[k] / total) * 100).toFixed(2)}%`;
    bar.append(seg);
  }
  return bar;
}

const rank = (outcome) => {
  const i = SEGMENT_ORDER.indexOf(outcome);
  return i < 0 ? 99 : i;
};

function showRules(el, data) {
  const rows = [...data.rules];
  if (data.no_rule.decisions) rows.push({ ...data.no_rule, name: "(no rule: own provider)", index: null, none: true });
  const max = Math.max(1, ...rows.map((r) => r.decisions));
  fill(
    el,
    table(
      [
        ["#", (r) => (r.index === null ? "" : r.index + 1), "num"],
        ["Rule", (r) => (r.none ? h("span", { class: "muted" }, r.name) : link(`/ui/audit${query({ rule: r.name })}`, r.name))],
        ["Kind", (r) => r.kind || ""],
        ["Decisions", (r) => (r.none ? h("span", { class: "decisions" }, number(r.decisions)) : link(`/ui/audit${query({ rule: r.name })}`, h("span", { class: "decisions" }, number(r.decisions)))), "num"],
        ["Outcomes", (r) => (r.decisions ? outcomeBar(r.outcomes, max) : "")],
      ],
      rows,
      { rowAttrs: (r) => ({ "data-rule": r.name }) }
    )
  );
}

function showOutcomes(el, outcomes) {
  const rows = Object.entries(outcomes).sort((a, b) => b[1] - a[1]);
  fill(
    el,
    table(
      [
        ["Outcome", ([o]) => badge(o, `/ui/audit${query({ outcome: o })}`)],
        ["Records", ([o, n]) => link(`/ui/audit${query({ outcome: o })}`, number(n)), "num"],
      ],
      rows,
      { empty: "No records yet: dispatch an action.", rowAttrs: ([o]) => ({ "data-outcome": o }) }
    )
  );
}

function showProviders(el, providers) {
  fill(
    el,
    table(
      [
        ["Provider", (p) => link(`/ui/audit${query({ provider: p.name })}`, p.name)],
        ["Records", (p) => number(p.decisions), "num"],
        ["Outcomes", (p) => h("div", { class: "chips" }, Object.entries(p.outcomes).map(([o, n]) => h("span", {}, badge(o), " ", number(n))))],
      ],
      providers,
      { empty: "No provider has been called yet." }
    )
  );
}
