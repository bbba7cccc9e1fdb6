// A small layered graph drawing in SVG, for the dataflow and for chains: nodes in columns by
// their longest distance from a start (edges that point back, like a gate letting an action on
// to the next rule, are drawn as arcs below), ordered within a column by their predecessors.

import { h } from "./lib.js";

const NODE_H = 40;
const GAP_X = 70;
const GAP_Y = 22;
const CHAR_W = 7;

/**
 * `graph`: `{nodes: [{id, label, sub, kind, href}], edges: [{from, to, label}]}`.
 * `nodeClass(node)` and `edgeClass(edge)` add classes (the path a chain took, its current step).
 */
export function drawGraph(graph, { nodeClass = () => "", edgeClass = () => "", label = "graph" } = {}) {
  const nodes = graph.nodes.map((n) => ({ ...n, out: [], in: [] }));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const edges = graph.edges.filter((e) => byId.has(e.from) && byId.has(e.to));
  for (const e of edges) {
    byId.get(e.from).out.push(e);
    byId.get(e.to).in.push(e);
  }
  // Back edges (found by a depth-first walk in the given order) do not decide columns.
  const back = new Set();
  const state = new Map();
  const visit = (n) => {
    state.set(n.id, 1);
    for (const e of n.out) {
      const s = state.get(e.to);
      if (s === 1) back.add(e);
      else if (!s) visit(byId.get(e.to));
    }
    state.set(n.id, 2);
  };
  for (const n of nodes) if (!state.get(n.id) && !n.in.length) visit(n);
  for (const n of nodes) if (!state.get(n.id)) visit(n);
  const layer = new Map();
  const depth = (n, seen = new Set()) => {
    if (layer.has(n.id)) return layer.get(n.id);
    seen.add(n.id);
    let d = 0;
    for (const e of n.in) if (!back.has(e) && !seen.has(e.from)) d = Math.max(d, depth(byId.get(e.from), seen) + 1);
    layer.set(n.id, d);
    return d;
  };
  nodes.forEach((n) => depth(n));
  const columns = [];
  for (const n of nodes) (columns[layer.get(n.id)] ||= []).push(n);
  // Order each column by where its predecessors sit (a barycentre sweep).
  const row = new Map();
  columns.forEach((column, c) => {
    if (c > 0) {
      const at = (n) => {
        const from = n.in.filter((e) => !back.has(e)).map((e) => row.get(e.from)).filter((r) => r !== undefined);
        return from.length ? from.reduce((a, b) => a + b, 0) / from.length : 0;
      };
      column.sort((a, b) => at(a) - at(b));
    }
    column.forEach((n, i) => row.set(n.id, i));
  });
  const width = (n) => Math.max(90, Math.max(n.label.length, (n.sub || "").length * 0.9) * CHAR_W + 24);
  const colWidth = columns.map((c) => Math.max(...c.map(width)));
  const tallest = Math.max(...columns.map((c) => c.length));
  const height = tallest * (NODE_H + GAP_Y);
  // The gap after a column fits the labels of the edges leaving it forwards.
  const gaps = columns.map((column) => {
    const labels = column.flatMap((n) => n.out.filter((e) => !back.has(e) && e.label).map((e) => e.label.length));
    return Math.max(GAP_X, Math.max(0, ...labels) * 6.3 + 28);
  });
  let x = 10;
  const pos = new Map();
  columns.forEach((column, c) => {
    const top = (height - column.length * (NODE_H + GAP_Y)) / 2 + 10;
    column.forEach((n, i) => pos.set(n.id, { x, y: top + i * (NODE_H + GAP_Y), w: colWidth[c] }));
    x += colWidth[c] + gaps[c];
  });
  // Edges that skip a column arc above the nodes between; edges back arc below everything.
  const column = (id) => layer.get(id);
  const skips = edges.some((e) => !back.has(e) && column(e.to) - column(e.from) > 1);
  const top = skips ? 44 : 0;
  for (const p of pos.values()) p.y += top;
  const hasBack = back.size > 0;
  const totalW = x - (gaps[gaps.length - 1] || GAP_X) + 20;
  const totalH = top + height + 20 + (hasBack ? 46 : 0);
  const id = `arrow-${label.replace(/\W/g, "")}`;
  const svg = h(
    "svg",
    { class: "graph", viewBox: `0 0 ${totalW} ${totalH}`, role: "img", "aria-label": label, width: totalW, height: totalH },
    h(
      "marker",
      { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto" },
      h("path", { d: "M0,0 L10,5 L0,10 z" })
    )
  );
  const marker = `url(#${id})`;
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    let d;
    let lx;
    let ly;
    if (back.has(e) || b.x <= a.x) {
      const y0 = a.y + NODE_H;
      const y1 = b.y + NODE_H;
      const bottom = top + height + 20 + 30;
      d = `M${a.x + a.w / 2},${y0} C${a.x + a.w / 2},${bottom} ${b.x + b.w / 2},${bottom} ${b.x + b.w / 2 + 6},${y1 + 2}`;
      lx = (a.x + a.w / 2 + b.x + b.w / 2) / 2;
      ly = bottom - 10;
    } else if (column(e.to) - column(e.from) > 1) {
      const x0 = a.x + a.w * 0.75;
      const x1 = b.x + b.w * 0.25;
      const over = Math.min(a.y, b.y) - top + 8;
      d = `M${x0},${a.y} C${x0},${over} ${x1},${over} ${x1},${b.y - 1}`;
      lx = (x0 + x1) / 2;
      ly = over + 18;
    } else {
      const x0 = a.x + a.w;
      const y0 = a.y + NODE_H / 2;
      const x1 = b.x;
      const y1 = b.y + NODE_H / 2;
      const mid = (x0 + x1) / 2;
      d = `M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1 - 1},${y1}`;
      lx = mid;
      ly = (y0 + y1) / 2 - 5;
    }
    const cls = edgeClass(e);
    svg.append(
      h(
        "g",
        { class: `edge ${cls}`.trim(), "data-from": e.from, "data-to": e.to },
        h("path", { d, "marker-end": marker }),
        e.label ? h("text", { x: lx, y: ly, "text-anchor": "middle" }, e.label) : null
      )
    );
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const cls = `node ${n.kind || ""} ${nodeClass(n)}`.replace(/\s+/g, " ").trim();
    const g = h(
      "g",
      { class: cls, "data-node": n.id, transform: `translate(${p.x},${p.y})` },
      h("title", {}, n.title || n.label),
      h("rect", { width: p.w, height: NODE_H, rx: 7 }),
      h("text", { x: 10, y: n.sub ? 16 : 24 }, n.label),
      n.sub ? h("text", { x: 10, y: 31, class: "sub" }, n.sub) : null
    );
    if (n.href) {
      // An SVG link (h() makes HTML ones); app.js follows it without reloading.
      const a = document.createElementNS("http://www.w3.org/2000/svg", "a");
      a.setAttribute("href", n.href);
      a.append(g);
      svg.append(a);
    } else {
      svg.append(g);
    }
  }
  return svg;
}

/**
 * A chain's definition as a graph: its steps, each branch and `next` as labelled edges, a
 * sub-chain's step pointing at the sub-chain's own steps when `plan` has it.
 */
export function chainGraph(chain) {
  const nodes = chain.steps.map((s) => ({
    id: s.name,
    label: s.name,
    sub: s.run,
    kind: s.sub_chain ? "keyed" : "",
  }));
  const edges = [];
  for (const s of chain.steps) {
    for (const b of s.branches) {
      // A branch to the step that follows anyway is one edge, taken either way.
      const also = b.target === s.next ? ", else too" : "";
      edges.push({ from: s.name, to: b.target, label: `if ${b.condition}${also}` });
    }
    if (s.next && !s.branches.some((b) => b.target === s.next)) {
      edges.push({ from: s.name, to: s.next, label: s.branches.length ? "else" : "" });
    }
  }
  return { nodes, edges };
}
