// Tiny DOM helpers: elements are built with h(), never from HTML strings holding data.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function table(headers, rows, { empty = "Nothing here yet." } = {}) {
  const body = rows.length
    ? rows
    : [h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, empty))];
  return h(
    "div",
    { class: "table-wrap" },
    h("table", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))), h("tbody", {}, body)),
  );
}

export function json(value) {
  return h("pre", { class: "json" }, value === undefined ? "" : JSON.stringify(value, null, 2));
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toISOString().replace("T", " ").slice(0, 19) + "Z";
}

export function ms(value) {
  if (value === null || value === undefined) return "—";
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

export function badge(status) {
  return h("span", { class: `badge status-${status}` }, status);
}

// A status line for a page: notice.ok("Saved"), notice.error(err).
export function notice() {
  const el = h("div", { class: "notice", role: "status", "aria-live": "polite" });
  el.ok = (text) => clear(el, h("span", { class: "ok" }, text));
  el.error = (err) => clear(el, h("span", { class: "error" }, err.message || String(err)));
  el.info = (text) => clear(el, h("span", {}, text));
  el.clear = () => clear(el);
  return el;
}

// A numbered code listing with one line marked (an execution error's line).
export function listing(code, markLine) {
  const lines = (code || "").split("\n");
  const rows = lines.map((text, i) =>
    h(
      "div",
      { class: i + 1 === markLine ? "code-line marked" : "code-line", dataset: { line: i + 1 } },
      h("span", { class: "ln" }, String(i + 1)),
      h("span", { class: "src" }, text || " "),
    ),
  );
  return h("div", { class: "listing" }, rows);
}
