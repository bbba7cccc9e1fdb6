// Held state: groups waiting to flush (members, time to flush, flush now), scheduled actions
// with their due time, and the dedup and throttle windows of one key.

import { api, plan, h, fill, link, time, duration, table, section, notice, explainError, every, query, idPath } from "./lib.js";

export async function render(main, ctx) {
  const thePlan = await plan(ctx.signal);
  const rules = new Map(thePlan.rules.map((r) => [r.name, r]));
  const messages = h("div", { id: "held-messages" });
  const groups = h("div", { id: "groups" });
  const scheduled = h("div", { id: "scheduled" });
  const windows = h("div", { id: "windows" });
  fill(
    main,
    h("h1", {}, "Held state"),
    messages,
    section("Groups waiting to flush", groups),
    section("Scheduled actions", scheduled),
    section("Dedup and throttle windows of a key", windows)
  );
  const scope = ctx.tenant ? { tenant: ctx.tenant } : {};

  const flush = async (group, button) => {
    button.disabled = true;
    try {
      const scope = `rule=${encodeURIComponent(group.rule)}&tenant=${encodeURIComponent(group.tenant)}`;
      await api(`/v1/groups/${encodeURIComponent(group.group_key)}?${scope}`, { method: "DELETE" });
      fill(messages, notice("ok", `Group ${group.group_key} of ${group.rule} flushed (${group.event_count} members).`));
      await loadGroups();
    } catch (error) {
      button.disabled = false;
      fill(messages, notice("error", `Could not flush ${group.group_key}: ${explainError(error)}`));
    }
  };
  const loadGroups = async () => {
    const data = await api(`/v1/groups${query(scope)}`, { signal: ctx.signal });
    const now = Date.now();
    fill(
      groups,
      table(
        [
          ["Rule", (g) => g.rule],
          ["Group", (g) => h("span", { class: "mono" }, g.group_key || "(no key)")],
          ["Tenant", (g) => g.tenant],
          ["Members", (g) => h("details", {}, h("summary", {}, `${g.event_count}`), g.members.map((m) => [link(`/ui/audit/${idPath(m)}`, m), " "]))],
          ["Since", (g) => h("span", { class: "mono when" }, time(g.created_at))],
          [
            "Flushes in",
            (g) => {
              const wait = rules.get(g.rule)?.settings?.wait_ms;
              if (wait === undefined) return "–";
              const left = new Date(g.created_at).getTime() + wait - now;
              return left > 0 ? duration(left) : "now";
            },
            "num",
          ],
          ["", (g) => h("button", { type: "button", "data-flush": g.group_key, onclick: (e) => flush(g, e.target) }, "Flush now")],
        ],
        data.groups,
        { empty: "No group is waiting.", rowAttrs: (g) => ({ "data-group": g.group_key, "data-rule": g.rule }) }
      )
    );
  };
  const loadScheduled = async () => {
    const data = await api(`/v1/events${query({ ...scope, state: "scheduled", limit: 200 })}`, { signal: ctx.signal });
    const now = Date.now();
    fill(
      scheduled,
      table(
        [
          ["Action", (e) => link(`/ui/audit/${idPath(e.action_id)}`, e.action_id)],
          ["Tenant", (e) => e.tenant],
          ["Type", (e) => e.action_type],
          ["Rule", (e) => e.rule],
          ["Scheduled at", (e) => h("span", { class: "mono when" }, time(e.updated_at))],
          [
            "Due in",
            (e) => {
              const delay = rules.get(e.rule)?.settings?.delay_ms;
              if (delay === undefined) return "–";
              const left = new Date(e.updated_at).getTime() + delay - now;
              return left > 0 ? duration(left) : "due";
            },
            "num",
          ],
        ],
        data.events,
        { empty: "No action is scheduled." }
      )
    );
  };

  const windowRules = thePlan.rules.filter((r) => r.kind === "dedup" || r.kind === "throttle");
  const answer = h("div", { id: "window-answer" });
  const form = h(
    "form",
    { class: "filters", id: "window-form" },
    h("label", {}, "Rule", h("select", { name: "rule" }, windowRules.map((r) => h("option", { value: r.name }, `${r.name} (${r.action})`)))),
    h("label", {}, "Tenant", h("input", { name: "tenant", value: ctx.tenant || ctx.params.get("tenant") || "" })),
    h("label", {}, "Key", h("input", { name: "key", placeholder: "the by value, dedup_key or id", value: ctx.params.get("key") || "" })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Look up"))
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    fill(answer, h("p", { class: "muted" }, "Asking…"));
    try {
      const window = await api(`/v1/windows${query(values)}`, { signal: ctx.signal });
      fill(answer, windowView(window));
    } catch (error) {
      fill(
        answer,
        error.code === "no_route"
          ? notice("note", "This server cannot show a key's windows yet (GET /v1/windows is not there).")
          : notice("error", explainError(error))
      );
    }
  });
  fill(windows, windowRules.length ? [form, answer] : h("p", { class: "empty" }, "The plan has no dedup or throttle rule."));

  await Promise.all([
    every(1000, loadGroups, ctx.signal, (error) => fill(groups, notice("error", explainError(error)))),
    every(2000, loadScheduled, ctx.signal, (error) => fill(scheduled, notice("error", explainError(error)))),
  ]);
}

function windowView(w) {
  if (w.kind === "dedup") {
    return table(
      [
        ["Key", () => w.key],
        ["Opened", () => time(w.opened_at)],
        ["Expires", () => time(w.expires_at)],
      ],
      [w]
    );
  }
  return table(
    [
      ["Key", () => w.key],
      ["Admitted in the window", () => `${(w.admitted || []).length} / ${w.limit}`, "num"],
      ["Window", () => duration(w.window_ms), "num"],
      ["Next admission in", () => duration(w.retry_after_ms || 0), "num"],
    ],
    [w]
  );
}
