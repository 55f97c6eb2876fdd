// Versions: history, a side-by-side diff of any two, and one-click rollback.
import { api, get, query } from "../api.js";
import { h, clear, table, when, notice } from "../dom.js";
import { sideBySide } from "../diff.js";

function diffView(older, newer) {
  const rows = sideBySide(older.code, newer.code).map((r) =>
    h("tr", { class: `diff-${r.kind}` },
      h("td", { class: "ln" }, r.leftNo ?? ""), h("td", { class: "src left" }, r.left ?? ""),
      h("td", { class: "ln" }, r.rightNo ?? ""), h("td", { class: "src right" }, r.right ?? "")));
  const settingsChanged = JSON.stringify(older.settings) !== JSON.stringify(newer.settings);
  return h("div", { class: "diff" },
    h("div", { class: "table-wrap" }, h("table", { class: "diff-table" },
      h("thead", {}, h("tr", {}, h("th", { colspan: 2 }, `v${older.version}`), h("th", { colspan: 2 }, `v${newer.version}`))),
      h("tbody", {}, rows))),
    settingsChanged ? h("p", { class: "muted" }, "Settings differ too: ",
      h("code", {}, JSON.stringify(older.settings)), " → ", h("code", {}, JSON.stringify(newer.settings))) : null);
}

export async function render(main, route, ctx) {
  const name = route.args[0];
  const status = notice();
  const body = h("div");
  main.append(
    h("div", { class: "page-head" },
      h("h1", {}, `${name}: versions`), h("span", { class: "spacer" }),
      h("a", { href: `#/snippets/${encodeURIComponent(name)}` }, "Back to editor")),
    status, body);

  const items = [];
  let cursor = null;
  do {
    const page = await get(`/snippets/${encodeURIComponent(name)}/versions` + query({ cursor, limit: 200 }));
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  const current = items[0]?.version;
  const left = h("select", { "aria-label": "Older version" });
  const right = h("select", { "aria-label": "Newer version" });
  for (const v of items) {
    left.append(h("option", { value: v.version }, `v${v.version}`));
    right.append(h("option", { value: v.version }, `v${v.version}`));
  }
  if (items.length > 1) left.value = String(items[1].version);
  const diff = h("div");
  const showDiff = () => {
    const a = items.find((v) => String(v.version) === left.value);
    const b = items.find((v) => String(v.version) === right.value);
    clear(diff, a && b ? diffView(a, b) : null);
  };
  left.addEventListener("change", showDiff);
  right.addEventListener("change", showDiff);

  const rollback = async (version) => {
    try {
      const result = await api("POST", `/snippets/${encodeURIComponent(name)}/rollback`, { version });
      status.ok(`Rolled back: version ${result.version} is a copy of version ${version} and is now live.`);
      clear(main);
      await render(main, route, ctx);
      main.querySelector(".notice").replaceWith(status);
    } catch (err) {
      status.error(err);
    }
  };
  const rows = items.map((v) =>
    h("tr", { dataset: { version: v.version } },
      h("td", {}, `v${v.version}`, v.version === current ? h("span", { class: "badge" }, "live") : null),
      h("td", {}, when(v.createdAt)),
      h("td", {}, v.createdBy || "—"),
      h("td", {}, v.rolledBackFrom ? `copy of v${v.rolledBackFrom}` : ""),
      h("td", {}, h("code", {}, v.contentHash.slice(0, 12))),
      h("td", {}, v.version === current ? "" : h("button", { type: "button", class: "small", onclick: () => rollback(v.version) }, `Roll back to v${v.version}`))));
  clear(body,
    table(["Version", "Created", "By", "", "Hash", ""], rows),
    h("h2", {}, "Compare"),
    h("div", { class: "row" }, left, h("span", {}, "→"), right),
    diff);
  showDiff();
}
