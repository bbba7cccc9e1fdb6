// What every page of the console shares: calls to the API (with the key, if any), the live
// tail as a stream, building elements, formatting, tables and the per-second chart.

const KEY = "acteon-console-key";
const TENANT = "acteon-console-tenant";

/** An answer of the API that is not 2xx: its status, stable code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export const key = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (value) => (value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY)),
};

/** The tenant chosen in the header, for keys limited to several tenants. */
export const tenant = {
  get: () => sessionStorage.getItem(TENANT) || "",
  set: (value) => (value ? sessionStorage.setItem(TENANT, value) : sessionStorage.removeItem(TENANT)),
};

/** Called when the API asks for a key (set by app.js). */
export const hooks = { needKey: () => {} };

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  const k = key.get();
  if (k) h.Authorization = `Bearer ${k}`;
  return h;
}

/** A JSON call; throws ApiError on any non-2xx answer. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }), signal };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json?.error?.code, json?.error?.message || text);
    if (response.status === 401) hooks.needKey(error);
    throw error;
  }
  return json;
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * Server-sent events read through fetch (EventSource cannot send the key). Calls
 * `onEvent({event, id, data})` per event until `signal` aborts; resolves when the stream ends.
 * `onOpen` is called once the server has answered (records written from then on will come).
 */
export async function stream(path, onEvent, signal, onOpen) {
  const response = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal });
  if (!response.ok) {
    const text = await response.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    const error = new ApiError(response.status, json?.error?.code, json?.error?.message || text);
    if (response.status === 401) hooks.needKey(error);
    throw error;
  }
  onOpen?.();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = { event: "message", id: "", data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const at = line.indexOf(":");
        const field = at < 0 ? line : line.slice(0, at);
        const text = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (field === "data") message.data += (message.data ? "\n" : "") + text;
        else if (field === "event") message.event = text;
        else if (field === "id") message.id = text;
      }
      if (message.data) onEvent(message);
    }
  }
}

/** An element: `h("a", {href, class, onclick}, child...)`; children may be text or arrays. */
export function h(tag, attrs, ...children) {
  const svg = ["svg", "g", "rect", "path", "text", "line", "marker", "polygon", "title", "circle"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value" && !svg) el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A link inside the console (followed without reloading the page). */
export function link(href, ...children) {
  return h("a", { href, "data-nav": "" }, ...children);
}

export const number = (n) => (n === undefined || n === null ? "–" : Number(n).toLocaleString("en-US"));

export function time(value) {
  if (value === undefined || value === null || value === "") return "–";
  const d = typeof value === "number" ? new Date(value) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toISOString().replace("T", " ").replace("Z", "");
}

export function duration(ms) {
  if (ms === undefined || ms === null) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = s / 60;
  if (m < 120) return `${m.toFixed(0)} min`;
  return `${(m / 60).toFixed(1)} h`;
}

/** An outcome as a coloured badge, linking to its records when `href` is given. */
export function badge(outcome, href) {
  const el = h("span", { class: `badge o-${outcome}` }, outcome || "–");
  return href ? link(href, el) : el;
}

/** Every outcome name, in the order the engine lists them. */
export const OUTCOMES = [
  "executed", "failed", "suppressed", "denied", "deduplicated", "throttled", "rerouted", "grouped",
  "group_flushed", "scheduled", "chain_started", "quota_exceeded", "rejected", "late",
  "chain_step_completed", "chain_step_failed", "chain_completed", "chain_failed", "chain_timed_out",
  "chain_cancelled",
];

/**
 * A table: `columns` are `[title, (row) => cell, className?]`. `empty` is shown when there are
 * no rows.
 */
export function table(columns, rows, { empty = "Nothing yet.", rowAttrs } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, columns.map(([title, , cls]) => h("th", { class: cls }, title)))),
    h(
      "tbody",
      {},
      rows.map((row) =>
        h("tr", rowAttrs ? rowAttrs(row) : {}, columns.map(([, cell, cls]) => h("td", { class: cls }, cell(row))))
      )
    )
  );
}

/** A section with a title and optional actions on the right. */
export function section(title, body, ...actions) {
  return h("section", { class: "card" }, h("header", {}, h("h2", {}, title), h("div", { class: "actions" }, actions)), body);
}

/** A message in a page: `kind` is "error", "note" or "ok". */
export function notice(kind, ...text) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...text);
}

/** What an API error says, for a notice. */
export function explainError(error) {
  if (error instanceof ApiError) {
    return `${error.status}${error.code ? ` ${error.code}` : ""}: ${error.message}`;
  }
  return String(error?.message || error);
}

/** Whether an error is the page going away (its requests aborted), which is no error. */
export const aborted = (error) => error?.name === "AbortError";

/**
 * JSON shown with its structure, the audit's redaction placeholder marked as redacted (the
 * value was removed before the record was written; the console never had it).
 */
export function jsonView(value, placeholder = "[REDACTED]") {
  const render = (v, indent) => {
    const pad = "  ".repeat(indent);
    if (v === null) return [h("span", { class: "j-null" }, "null")];
    if (Array.isArray(v)) {
      if (!v.length) return ["[]"];
      const out = ["[\n"];
      v.forEach((item, i) => {
        out.push(pad + "  ", ...render(item, indent + 1), i < v.length - 1 ? ",\n" : "\n");
      });
      out.push(pad + "]");
      return out;
    }
    if (typeof v === "object") {
      const entries = Object.entries(v);
      if (!entries.length) return ["{}"];
      const out = ["{\n"];
      entries.forEach(([k, item], i) => {
        out.push(pad + "  ", h("span", { class: "j-key" }, JSON.stringify(k)), ": ", ...render(item, indent + 1));
        out.push(i < entries.length - 1 ? ",\n" : "\n");
      });
      out.push(pad + "}");
      return out;
    }
    if (typeof v === "string" && v === placeholder) {
      return [h("span", { class: "redacted", title: "redacted before it was written to the audit" }, "redacted")];
    }
    return [h("span", { class: `j-${typeof v}` }, JSON.stringify(v))];
  };
  return h("pre", { class: "json" }, render(value, 0));
}

/**
 * A per-second bar chart on a canvas: `values` oldest first, the last one now. Redrawn
 * whole each time (300 bars is nothing to draw).
 */
export function drawRate(canvas, values) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 160;
  if (canvas.width !== width * ratio) canvas.width = width * ratio;
  if (canvas.height !== height * ratio) canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const styles = getComputedStyle(canvas);
  const ink = styles.getPropertyValue("--ink-soft").trim() || "#667";
  const bar = styles.getPropertyValue("--accent").trim() || "#36c";
  const left = 44;
  const bottom = 18;
  const max = Math.max(1, ...values);
  const scale = niceCeiling(max);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = ink;
  g.strokeStyle = ink;
  g.globalAlpha = 0.25;
  for (let i = 0; i <= 4; i++) {
    const y = Math.round((height - bottom) * (1 - i / 4)) + 0.5;
    g.beginPath();
    g.moveTo(left, y);
    g.lineTo(width, y);
    g.stroke();
  }
  g.globalAlpha = 1;
  g.textAlign = "right";
  for (let i = 0; i <= 4; i++) {
    const y = (height - bottom) * (1 - i / 4);
    g.fillText(number(Math.round((scale * i) / 4)), left - 6, Math.max(10, y + 4));
  }
  g.textAlign = "center";
  const n = values.length;
  const step = (width - left) / n;
  for (const minutesAgo of [5, 4, 3, 2, 1, 0]) {
    const x = left + step * (n - minutesAgo * 60);
    if (x >= left) g.fillText(minutesAgo ? `-${minutesAgo} min` : "now", Math.min(x, width - 14), height - 4);
  }
  g.fillStyle = bar;
  values.forEach((v, i) => {
    if (!v) return;
    const h = ((height - bottom) * v) / scale;
    g.fillRect(left + i * step, height - bottom - h, Math.max(1, step - 0.5), h);
  });
}

function niceCeiling(n) {
  const power = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= n) return m * power;
  return 10 * power;
}

/** Calls `fn` now and every `ms` until `signal` aborts; errors go to `onError`. */
export function every(ms, fn, signal, onError) {
  let timer = null;
  const run = async () => {
    try {
      await fn();
    } catch (error) {
      if (!aborted(error)) onError?.(error);
    }
    if (!signal.aborted) timer = setTimeout(run, ms);
  };
  signal.addEventListener("abort", () => clearTimeout(timer));
  return run();
}

/** Chain and action ids hold slashes: each segment is encoded, the slashes kept. */
export const idPath = (id) => id.split("/").map(encodeURIComponent).join("/");

let planCache = null;

/** The running plan (`GET /v1/plan`), asked again at most every 10 s: it changes on reloads. */
export async function plan(signal) {
  if (planCache && performance.now() - planCache.at < 10_000) return planCache.value;
  const value = await api("/v1/plan", { signal });
  planCache = { value, at: performance.now() };
  return value;
}
