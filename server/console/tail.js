// The live tail: decisions as they are written (`GET /v1/tail`, server-sent events), filtered
// on the server by outcome, rule, tenant, provider and action type, and by any text here;
// pausable (records that come while paused are kept and shown on resume, up to a limit).

import { stream, h, fill, link, badge, time, notice, explainError, aborted, query, idPath, OUTCOMES } from "./lib.js";

/** Rows kept on screen, and records kept while paused. */
const SHOWN = 500;

export async function render(main, ctx) {
  const filters = {
    outcome: ctx.params.get("outcome") || "",
    rule: ctx.params.get("rule") || "",
    tenant: ctx.params.get("tenant") || ctx.tenant || "",
    provider: ctx.params.get("provider") || "",
    action_type: ctx.params.get("action_type") || "",
  };
  let text = ctx.params.get("q") || "";
  let paused = false;
  let waiting = [];
  let received = 0;
  let lastSecond = [];

  const state = h("span", { id: "tail-state", class: "badge" }, "connecting");
  const figures = h("span", { class: "muted", id: "tail-count" });
  const messages = h("div");
  const body = h("tbody", { id: "tail-rows" });
  const pause = h("button", { type: "button", id: "tail-pause" }, "Pause");
  const input = (name, label, attrs = {}) => h("label", {}, label, h("input", { name, value: filters[name], ...attrs }));
  const form = h(
    "form",
    { class: "filters", id: "tail-filters" },
    h("label", {}, "Outcome", h("select", { name: "outcome" }, h("option", { value: "" }, "any"), OUTCOMES.map((o) => h("option", { value: o, selected: o === filters.outcome }, o)))),
    input("rule", "Rule"),
    input("tenant", "Tenant"),
    input("provider", "Provider"),
    input("action_type", "Action type"),
    h("label", {}, "Text (here)", h("input", { name: "q", value: text, placeholder: "any text in the record" })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply"))
  );
  fill(
    main,
    h("h1", {}, "Live tail ", state),
    h("section", { class: "card" }, form),
    messages,
    h(
      "section",
      { class: "card" },
      h("header", {}, h("h2", {}, "Records as they are written, newest first"), h("div", { class: "actions" }, figures, pause, h("button", { type: "button", class: "quiet", onclick: () => body.replaceChildren() }, "Clear"))),
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, ["Written", "Action", "Tenant", "Type", "Outcome", "Rule", "Target", "Chain step"].map((t) => h("th", {}, t)))),
        body
      )
    )
  );

  const row = (r) =>
    h(
      "tr",
      { class: "tail-row", "data-action": r.action_id, "data-outcome": r.outcome },
      h("td", { class: "mono" }, time(r.completed_at || r.dispatched_at)),
      h("td", {}, link(`/ui/audit/${idPath(r.action_id)}`, r.action_id)),
      h("td", {}, r.tenant),
      h("td", {}, r.action_type),
      h("td", {}, badge(r.outcome)),
      h("td", {}, r.rule || ""),
      h("td", {}, r.target || ""),
      h("td", {}, r.details?.step || "")
    );
  const show = (records) => {
    const shown = records.filter((r) => !text || JSON.stringify(r).includes(text));
    if (!shown.length) return;
    const fragment = document.createDocumentFragment();
    for (const r of shown.reverse()) fragment.append(row(r));
    body.prepend(fragment);
    while (body.children.length > SHOWN) body.lastChild.remove();
  };
  const count = () => {
    const now = performance.now();
    lastSecond = lastSecond.filter((t) => now - t < 1000);
    figures.textContent = `${received} received · ${lastSecond.length}/s${paused ? ` · ${waiting.length} waiting` : ""}`;
  };
  const countTimer = setInterval(count, 1000);
  ctx.signal.addEventListener("abort", () => clearInterval(countTimer));

  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    state.textContent = paused ? "paused" : "live";
    state.className = `badge ${paused ? "s-half_open" : "s-running"}`;
    if (!paused) {
      show(waiting);
      waiting = [];
    }
    count();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    ctx.navigate(`/ui/tail${query(values)}`);
  });

  // Connected once the server has answered; the page counts as shown from then on.
  await new Promise((resolve) => {
    const onEvent = (message) => {
      if (message.event === "lagged") {
        fill(messages, notice("note", `Records came faster than this page read them: ${JSON.parse(message.data).missed} were skipped.`));
        return;
      }
      const record = JSON.parse(message.data);
      received += 1;
      lastSecond.push(performance.now());
      if (paused) {
        waiting.push(record);
        if (waiting.length > SHOWN) waiting.shift();
      } else {
        show([record]);
      }
    };
    const open = () => {
      if (state.textContent !== "paused") {
        state.textContent = "live";
        state.className = "badge s-running";
      }
      // A reconnect after an error clears the error; a note about skipped records stays.
      if (messages.querySelector(".notice.error")) fill(messages);
      resolve();
    };
    // The server ends each stream after a few seconds (so that it can always shut down):
    // connect again at once, for as long as the page is open; after an error, a little later.
    (async () => {
      while (!ctx.signal.aborted) {
        try {
          await stream(`/v1/tail${query(filters)}`, onEvent, ctx.signal, open);
        } catch (error) {
          if (aborted(error) || ctx.signal.aborted) return;
          state.textContent = "reconnecting";
          state.className = "badge s-half_open";
          fill(messages, notice("error", explainError(error)));
          resolve();
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    })();
  });
}
