// Chains: the running, waiting, completed and failed lists (`GET /v1/chains?status=`), and one
// chain at /ui/chains/ID: its definition drawn as a graph with the path it took and the step it
// waits on, each step's result, its sub-chains, its records, and cancel.

import { api, plan, h, fill, link, badge, time, duration, table, section, notice, explainError, jsonView, every, query, idPath } from "./lib.js";
import { drawGraph, chainGraph } from "./graph.js";
import { recordTable } from "./audit.js";

const STATES = ["running", "waiting_for_sub_chain", "completed", "failed", "timed_out", "cancelled"];
const LIVE = new Set(["running", "waiting_for_sub_chain"]);

const stateBadge = (state) => h("span", { class: `badge s-${state}` }, state.replaceAll("_", " "));

async function cancel(id, button, report) {
  button.disabled = true;
  try {
    await api(`/v1/chains/${idPath(id)}/cancel`, { method: "POST" });
    report(notice("ok", `Cancel requested for ${id}: it ends at its operator's next turn.`));
  } catch (error) {
    button.disabled = false;
    report(notice("error", explainError(error)));
  }
}

export async function render(main, ctx) {
  const status = ctx.params.get("status") || "running";
  const tabs = h(
    "div",
    { class: "tabs", id: "chain-tabs" },
    [...STATES, "all"].map((s) =>
      link(`/ui/chains${query({ status: s === "running" ? "" : s })}`, s.replaceAll("_", " "))
    )
  );
  tabs.querySelectorAll("a").forEach((a, i) => a.classList.toggle("active", [...STATES, "all"][i] === status));
  const messages = h("div");
  const list = h("div", { id: "chain-list" });
  fill(main, h("h1", {}, "Chains"), tabs, messages, section("Chains", list));
  const scope = ctx.tenant ? { tenant: ctx.tenant } : {};
  const load = async () => {
    const data = await api(`/v1/chains${query({ ...scope, status: status === "all" ? "" : status })}`, { signal: ctx.signal });
    const chains = data.chains.sort((a, b) => b.started_at_us - a.started_at_us);
    fill(
      list,
      table(
        [
          ["Chain", (c) => link(`/ui/chains/${idPath(c.chain_id)}`, c.chain_id)],
          ["Definition", (c) => c.chain],
          ["State", (c) => stateBadge(c.state)],
          ["Step", (c) => c.current_step || "–"],
          ["Path", (c) => h("span", { class: "mono" }, c.path.join(" → ") || "–")],
          ["Tenant", (c) => c.tenant || "–"],
          ["Started", (c) => h("span", { class: "mono when" }, time(c.started_at_us / 1000))],
          ["Took", (c) => duration(((c.finished_at_us ?? Date.now() * 1000) - c.started_at_us) / 1000), "num"],
          [
            "",
            (c) =>
              LIVE.has(c.state)
                ? h("button", { type: "button", class: "danger", "data-cancel": c.chain_id, onclick: (e) => cancel(c.chain_id, e.target, (n) => fill(messages, n)) }, "Cancel")
                : "",
          ],
        ],
        chains,
        { empty: status === "running" ? "No chain is running." : "No chains here.", rowAttrs: (c) => ({ "data-chain": c.chain_id, "data-state": c.state }) }
      )
    );
  };
  await every(2000, load, ctx.signal, (error) => fill(list, notice("error", explainError(error))));
}

export async function renderChain(main, ctx) {
  const id = ctx.match[1].split("/").map(decodeURIComponent).join("/");
  const thePlan = await plan(ctx.signal);
  const messages = h("div");
  const head = h("div", { id: "chain-head" });
  const graph = h("div", { id: "chain-graph" });
  const steps = h("div", { id: "chain-steps" });
  const subs = h("div", { id: "sub-chains" });
  const records = h("div", { id: "chain-records" });
  fill(
    main,
    h("h1", {}, "Chain ", h("span", { class: "mono" }, id)),
    messages,
    head,
    section("Path", graph),
    section("Steps", steps),
    subs,
    section("Records", records)
  );
  const scope = ctx.tenant ? { tenant: ctx.tenant } : {};
  let finished = false;
  const load = async () => {
    if (finished) return;
    const chain = await api(`/v1/chains/${idPath(id)}`, { signal: ctx.signal });
    const definition = thePlan.chains.find((c) => c.name === chain.chain);
    finished = !LIVE.has(chain.state);
    fill(
      head,
      h(
        "div",
        { class: "figures text" },
        h("div", { class: "figure" }, h("div", { class: "value", id: "chain-state" }, stateBadge(chain.state)), h("div", { class: "label" }, "state")),
        h("div", { class: "figure" }, h("div", { class: "value" }, chain.chain), h("div", { class: "label" }, "definition")),
        h("div", { class: "figure" }, h("div", { class: "value" }, link(`/ui/audit/${idPath(chain.action_id)}`, chain.action_id)), h("div", { class: "label" }, "started by")),
        h(
          "div",
          { class: "figure" },
          h("div", { class: "value", id: "chain-waits-on" }, LIVE.has(chain.state) ? chain.current_step || "–" : "–"),
          h("div", { class: "label" }, chain.state === "waiting_for_sub_chain" ? "waits on (a sub-chain)" : "waits on")
        ),
        h("div", { class: "figure" }, h("div", { class: "value" }, duration(((chain.finished_at_us ?? Date.now() * 1000) - chain.started_at_us) / 1000)), h("div", { class: "label" }, finished ? "took" : "running for"))
      ),
      chain.parent ? h("p", {}, "A sub-chain of ", link(`/ui/chains/${idPath(chain.parent)}`, chain.parent), ".") : null,
      chain.error ? notice("error", chain.error) : null,
      LIVE.has(chain.state)
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "danger", id: "cancel-chain", onclick: (e) => cancel(id, e.target, (n) => fill(messages, n)) }, "Cancel this chain"))
        : null
    );
    if (definition) fill(graph, pathGraph(definition, chain, id));
    else fill(graph, notice("note", `The running plan has no chain ${chain.chain} (changed since?).`));
    fill(
      steps,
      table(
        [
          ["Step", ([name]) => name],
          ["Result", ([, r]) => badge(r.success ? "chain_step_completed" : "chain_step_failed")],
          ["Attempts", ([, r]) => r.attempts, "num"],
          ["Took", ([, r]) => duration(r.duration_ms), "num"],
          ["By", ([, r]) => r.delivered_by || ""],
          ["Answer", ([, r]) => (r.error ? h("span", { class: "fails" }, r.error) : jsonView(r.body, thePlan.audit.placeholder))],
        ],
        chain.path.filter((s) => chain.results[s]).map((s) => [s, chain.results[s]]),
        { empty: "No step has finished yet." }
      )
    );
    const children = (await api(`/v1/chains${query(scope)}`, { signal: ctx.signal })).chains.filter((c) => c.parent === id);
    fill(
      subs,
      children.length
        ? section(
            "Sub-chains",
            table(
              [
                ["Chain", (c) => link(`/ui/chains/${idPath(c.chain_id)}`, c.chain_id)],
                ["State", (c) => stateBadge(c.state)],
                ["Path", (c) => c.path.join(" → ")],
              ],
              children
            )
          )
        : null
    );
    const page = await api(`/v1/audit${query({ ...scope, chain_id: id, limit: 1000 })}`, { signal: ctx.signal });
    fill(records, recordTable(page.records, thePlan.audit.placeholder));
  };
  await every(1000, load, ctx.signal, (error) => fill(messages, notice("error", explainError(error))));
}

/** The definition's graph, the steps taken and the edges between them marked. */
function pathGraph(definition, chain, id) {
  const graph = chainGraph(definition);
  const taken = new Set(chain.path);
  const pairs = new Set(chain.path.slice(1).map((s, i) => `${chain.path[i]}→${s}`));
  const live = LIVE.has(chain.state);
  for (const node of graph.nodes) {
    const step = definition.steps.find((s) => s.name === node.id);
    // A sub-chain's id is its parent's and the step's (`PARENT/STEP`): linked once it started.
    const started = taken.has(node.id) || (live && chain.current_step === node.id);
    if (step?.sub_chain && started) node.href = `/ui/chains/${idPath(`${id}/${step.name}`)}`;
  }
  // The step waited on: running now, or the one being entered when the chain is live.
  return drawGraph(graph, {
    label: `chain ${definition.name}`,
    nodeClass: (n) =>
      [
        taken.has(n.id) && !(live && n.id === chain.current_step) ? "taken" : "",
        live && n.id === chain.current_step ? "current" : "",
        !live && chain.state !== "completed" && n.id === chain.current_step ? "failed" : "",
      ].join(" "),
    edgeClass: (e) => (pairs.has(`${e.from}→${e.to}`) ? "taken" : ""),
  });
}
