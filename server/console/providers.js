// Providers: health, latency and breaker state (`GET /v1/providers/health`), each breaker's
// settings with trip and reset, and the dead letters: the deliveries that failed, the actions
// rejected and the chain steps that failed, newest first.

import { api, plan, h, fill, link, badge, time, number, duration, table, section, notice, explainError, every, query, idPath } from "./lib.js";

export async function render(main, ctx) {
  const thePlan = await plan(ctx.signal);
  const declared = new Map(thePlan.providers.map((p) => [p.name, p]));
  const messages = h("div", { id: "provider-messages" });
  const health = h("div", { id: "provider-health" });
  const letters = h("div", { id: "dead-letters" });
  fill(
    main,
    h("h1", {}, "Providers"),
    messages,
    section("Health and breakers", health),
    section("Dead letters: failed deliveries, rejected actions, failed chain steps", letters)
  );

  const breakerAction = async (provider, action, button) => {
    button.disabled = true;
    try {
      await api(`/v1/providers/${encodeURIComponent(provider)}/breaker`, { method: "POST", body: { state: action === "trip" ? "open" : "closed" } });
      fill(messages, notice("ok", `Breaker of ${provider}: ${action === "trip" ? "tripped (open)" : "reset (closed)"}.`));
      await loadHealth();
    } catch (error) {
      fill(
        messages,
        error.code === "conflict"
          ? notice("note", `${provider} has no breaker to ${action} (disabled in the script, or a dry run).`)
          : notice("error", explainError(error))
      );
    } finally {
      button.disabled = false;
    }
  };
  const loadHealth = async () => {
    const data = await api("/v1/providers/health", { signal: ctx.signal });
    fill(
      health,
      table(
        [
          ["Provider", (p) => link(`/ui/audit${query({ provider: p.provider })}`, p.provider)],
          ["Type", (p) => declared.get(p.provider)?.type || "–"],
          ["Breaker", (p) => h("span", { class: `badge s-${p.circuit_breaker_state || "none"}`, "data-breaker": p.circuit_breaker_state || "none" }, p.circuit_breaker_state || "none")],
          ["Healthy", (p) => (p.healthy ? h("span", { class: "holds" }, "yes") : h("span", { class: "fails" }, "no"))],
          ["Calls", (p) => number(p.total_requests), "num"],
          ["Success", (p) => `${(p.success_rate * 100).toFixed(1)} %`, "num"],
          ["Mean", (p) => duration(p.avg_latency_ms), "num"],
          ["p50 / p95 / p99", (p) => `${p.p50_latency_ms} / ${p.p95_latency_ms} / ${p.p99_latency_ms} ms`, "num"],
          ["Max", (p) => duration(p.max_latency_ms), "num"],
          ["Rejected", (p) => number(p.rejected), "num"],
          ["As fallback", (p) => number(p.fallback_deliveries), "num"],
          ["Settings", (p) => breakerSettings(declared.get(p.provider)?.breaker)],
          [
            "",
            (p) =>
              h(
                "div",
                { class: "actions" },
                h("button", { type: "button", class: "danger", "data-trip": p.provider, onclick: (e) => breakerAction(p.provider, "trip", e.target) }, "Trip"),
                h("button", { type: "button", class: "quiet", "data-reset": p.provider, onclick: (e) => breakerAction(p.provider, "reset", e.target) }, "Reset")
              ),
          ],
        ],
        data.providers,
        { empty: "The plan declares no provider.", rowAttrs: (p) => ({ "data-provider": p.provider }) }
      )
    );
  };
  const loadLetters = async () => {
    // `order=desc` asks for the newest first; a server that pages oldest first only ignores it,
    // and the page sorts what it gets.
    const pages = await Promise.all(
      ["failed", "rejected", "chain_step_failed"].map((outcome) =>
        api(`/v1/audit${query({ outcome, limit: 50, order: "desc", ...(ctx.tenant ? { tenant: ctx.tenant } : {}) })}`, { signal: ctx.signal })
      )
    );
    const records = pages
      .flatMap((p) => p.records)
      .sort((a, b) => b.dispatched_at.localeCompare(a.dispatched_at))
      .slice(0, 50);
    fill(
      letters,
      table(
        [
          ["When", (r) => h("span", { class: "mono when" }, time(r.dispatched_at))],
          ["Action", (r) => link(`/ui/audit/${idPath(r.action_id)}`, r.action_id)],
          ["Outcome", (r) => badge(r.outcome)],
          ["Provider", (r) => r.target || r.provider || "–"],
          ["Why", (r) => r.details?.reason || r.details?.error || r.details?.delivery?.error || "–"],
          ["Attempts", (r) => r.details?.delivery?.attempts ?? r.details?.attempts ?? "–", "num"],
        ],
        records,
        { empty: "No dead letters." }
      )
    );
  };
  await Promise.all([
    every(2000, loadHealth, ctx.signal, (error) => fill(health, notice("error", explainError(error)))),
    every(5000, loadLetters, ctx.signal, (error) => fill(letters, notice("error", explainError(error)))),
  ]);
}

function breakerSettings(breaker) {
  if (!breaker || !breaker.enabled) return h("span", { class: "muted" }, "no breaker");
  return h(
    "span",
    { class: "muted" },
    `opens after ${breaker.failure_threshold} failures, probes after ${duration(breaker.recovery_timeout_ms)}, closes after ${breaker.success_threshold}`,
    breaker.fallback ? `, falls back to ${breaker.fallback}` : ""
  );
}
