// Rules: the running plan (`acteon explain`'s content: the rules in evaluation order with the
// file and line each comes from, the dataflow, the chains) and the playground: an action pasted
// or edited, its verdict from a dry run (`POST /v1/dispatch?dry_run=true`, which reads and
// changes no window) and every rule's conditions with the values they read
// (`POST /v1/rules/explain`). The action is kept in the URL, so a case can be shared.

import { api, plan, h, fill, badge, number, table, section, notice, explainError, query } from "./lib.js";
import { drawGraph, chainGraph } from "./graph.js";

const HQ = { namespace: "iot", tenant: "smartbuilding-hq" };

/** Actions to start from: the seed's kinds of telemetry. */
const SAMPLES = {
  "critical temperature": { ...HQ, action_type: "sensor_reading", provider: "metrics-queue", payload: { device_id: "temp-sensor-042", sensor_type: "temperature", value: 91.5, unit: "F", floor: 3 } },
  "normal temperature": { ...HQ, action_type: "sensor_reading", provider: "metrics-queue", payload: { device_id: "temp-sensor-007", sensor_type: "temperature", value: 71.2, unit: "F", floor: 2 } },
  "motion intrusion": { ...HQ, action_type: "sensor_reading", provider: "metrics-queue", payload: { device_id: "motion-lobby-01", sensor_type: "motion", event: "intrusion", floor: 1 } },
  humidity: { ...HQ, action_type: "sensor_reading", provider: "metrics-queue", payload: { device_id: "humid-03", sensor_type: "humidity", value: 48, floor: 3 } },
  energy: { ...HQ, action_type: "sensor_reading", provider: "metrics-queue", payload: { device_id: "meter-main", sensor_type: "energy", value: 1520 } },
  "unsigned firmware": { ...HQ, action_type: "firmware_update", provider: "metrics-queue", payload: { device_id: "temp-sensor-042", version: "2.4.1", signed: false } },
  "test device": { ...HQ, action_type: "sensor_reading", provider: "metrics-queue", payload: { device_id: "temp-test-01", sensor_type: "temperature", value: 70, environment: "test" } },
  "device lifecycle": { ...HQ, action_type: "device_lifecycle", provider: "event-bus", payload: { device_id: "temp-sensor-099", event: "provisioned" } },
};

/** What a matched rule did, as the playground says it. */
const EFFECTS = {
  decided: "decided",
  modified: "patched the payload, went on",
  passed: "passed on (first sighting)",
};

export async function render(main, ctx) {
  const [thePlan, counts] = await Promise.all([
    plan(ctx.signal),
    api(`/v1/console/overview${query(ctx.tenant ? { tenant: ctx.tenant } : {})}`, { signal: ctx.signal }),
  ]);
  const decisions = new Map(counts.rules.map((r) => [r.name, r.decisions]));
  const playground = h("div", { id: "playground" });
  fill(
    main,
    h("h1", {}, "Rules", h("span", { class: "muted" }, ` · plan generation ${thePlan.generation ?? "–"} · ${thePlan.script}`)),
    section("Playground", playground),
    section(
      "Rules in evaluation order",
      table(
        [
          ["#", (r) => r.index + 1, "num"],
          ["Priority", (r) => r.priority, "num"],
          ["Rule", (r) => h("strong", { id: `rule-${r.name}`, class: "nowrap" }, r.name)],
          ["Kind", (r) => (r.terminal ? r.kind : h("span", { title: "evaluation goes on after it" }, `${r.kind} ↓`))],
          ["When", (r) => (r.condition ? h("code", {}, r.condition) : h("span", { class: "muted" }, "always"))],
          ["Then", (r) => h("code", {}, r.action)],
          ["Scope", (r) => [r.scope.namespace, r.scope.tenant].filter(Boolean).join(" / ") || "all"],
          ["From", (r) => h("span", { class: "mono", title: `${r.file}:${r.line}` }, `${relative(r.file, thePlan.script)}:${r.line}`)],
          ["Decisions", (r) => number(decisions.get(r.name) ?? 0), "num"],
        ],
        thePlan.rules,
        { rowAttrs: (r) => ({ "data-rule": r.name }) }
      )
    ),
    section("Dataflow", dataflowGraph(thePlan)),
    thePlan.chains.map((c) =>
      section(`Chain ${c.name} (timeout ${Math.round(c.timeout_ms / 1000)} s)`, drawGraph(chainGraph(c), { label: `chain ${c.name}` }))
    ),
    section("acteon explain", h("details", {}, h("summary", {}, "the plan as `acteon explain` prints it"), h("pre", { class: "plain" }, thePlan.explain)))
  );
  await showPlayground(playground, ctx);
}

/** A rule's file as seen from the script's directory (its includes sit beside it). */
function relative(file, script) {
  const dir = script.slice(0, script.lastIndexOf("/") + 1);
  return dir && file.startsWith(dir) ? file.slice(dir.length) : file;
}

function dataflowGraph(thePlan) {
  const nodes = thePlan.dataflow.nodes.map((n) => ({
    ...n,
    sub: n.rules ? n.rules.join(", ") : undefined,
    title: n.rules ? `${n.label}: ${n.rules.join(", ")}` : n.label,
  }));
  return drawGraph({ nodes, edges: thePlan.dataflow.edges }, { label: "dataflow" });
}

async function showPlayground(el, ctx) {
  const fromUrl = ctx.params.get("action");
  const text = h("textarea", { id: "playground-action", spellcheck: "false", "aria-label": "action JSON" });
  text.value = fromUrl || JSON.stringify(SAMPLES["critical temperature"], null, 2);
  const samples = h(
    "select",
    { id: "playground-sample", "aria-label": "sample action" },
    h("option", { value: "" }, "start from a sample…"),
    Object.keys(SAMPLES).map((name) => h("option", { value: name }, name))
  );
  samples.addEventListener("change", () => {
    if (samples.value) text.value = JSON.stringify(SAMPLES[samples.value], null, 2);
  });
  const result = h(
    "div",
    { id: "playground-result" },
    notice("note", "Paste or edit an action, or start from a sample, then evaluate: the verdict, the rules that matched and each condition with the value it read show here.")
  );
  const run = h("button", { type: "button", id: "playground-run" }, "Evaluate (dry run)");
  run.addEventListener("click", () => evaluate(text.value, result, ctx));
  fill(
    el,
    h(
      "div",
      { class: "split" },
      h(
        "div",
        {},
        text,
        h("div", { class: "actions" }, run, samples),
        h("p", { class: "muted" }, "A dry run: no dedup, throttle or quota window is read or changed, nothing is delivered or audited.")
      ),
      result
    )
  );
  if (fromUrl) await evaluate(fromUrl, result, ctx);
}

async function evaluate(source, el, ctx) {
  let action;
  try {
    action = JSON.parse(source);
  } catch (error) {
    fill(el, notice("error", `Not JSON: ${error.message}`));
    return;
  }
  ctx.setQuery({ action: JSON.stringify(action) });
  fill(el, h("p", { class: "muted" }, "Evaluating…"));
  let decision;
  let explained;
  try {
    [decision, explained] = await Promise.all([
      api("/v1/dispatch?dry_run=true", { method: "POST", body: action }),
      api("/v1/rules/explain", { method: "POST", body: action }),
    ]);
  } catch (error) {
    fill(el, notice("error", explainError(error)));
    return;
  }
  const passed = decision.details?.passed || [];
  fill(
    el,
    h(
      "div",
      { class: "figures text", id: "verdict" },
      h("div", { class: "figure" }, h("div", { class: "value", id: "verdict-outcome" }, badge(decision.outcome)), h("div", { class: "label" }, "verdict")),
      h("div", { class: "figure" }, h("div", { class: "value", id: "verdict-rule" }, decision.rule || "no rule"), h("div", { class: "label" }, "decided by")),
      h("div", { class: "figure" }, h("div", { class: "value" }, decision.target || decision.details?.chain || "–"), h("div", { class: "label" }, decision.details?.chain ? "chain" : "target"))
    ),
    passed.length ? h("p", {}, "Passed on the way (first sighting, under the limit): ", passed.join(", ")) : null,
    explained.verdict.rule !== decision.rule
      ? notice("error", `The explanation reached ${explained.verdict.rule ?? "no rule"}, the dry run ${decision.rule ?? "no rule"}.`)
      : null,
    table(
      [
        ["#", (r) => r.index + 1, "num"],
        ["Rule", (r) => h("strong", {}, r.name)],
        ["", (r) => (r.evaluated ? (r.matched ? h("span", { class: "holds" }, "✓") : h("span", { class: "fails" }, "✗")) : "")],
        ["Scope", (r) => (!r.evaluated ? "" : r.in_scope ? "in" : h("span", { class: "fails" }, "out"))],
        ["Conditions and the values they read", (r) => (!r.evaluated ? h("span", { class: "muted" }, "not reached") : r.condition ? trace(r.condition) : h("span", { class: "muted" }, "no condition: every action in scope"))],
        ["Then", (r) => EFFECTS[r.effect] || ""],
      ],
      explained.rules,
      {
        rowAttrs: (r) => ({
          "data-rule": r.name,
          "data-matched": r.matched ? "true" : "false",
          class: r.effect === "decided" ? "decided" : r.evaluated ? "" : "skipped",
        }),
      }
    ),
    h("details", {}, h("summary", {}, "payload after modify"), h("pre", { class: "json" }, JSON.stringify(explained.payload, null, 2)))
  );
}

/** A condition tree: each test with the value read, each node with whether it held. */
function trace(node) {
  const mark = (holds) => (holds ? h("span", { class: "holds" }, "✓ ") : h("span", { class: "fails" }, "✗ "));
  if (node.op === "test") {
    return h(
      "span",
      { class: "test" },
      mark(node.holds),
      h("code", {}, node.text),
      " — read ",
      node.present ? h("span", { class: "value-read" }, JSON.stringify(node.value)) : h("span", { class: "muted" }, "nothing (no such field)")
    );
  }
  const word = { all: "all of", any: "any of", not: "not" }[node.op];
  return h("span", {}, mark(node.holds), word, h("ul", { class: "trace" }, node.of.map((child) => h("li", {}, trace(child)))));
}
