// The audit trail (admin): who did what to which target, newest first.
import { get, query } from "../api.js";
import { h, table, when } from "../dom.js";

export async function render(main, route, ctx) {
  const params = route.params;
  const fields = ["actor", "action", "target"];
  const inputs = Object.fromEntries(fields.map((key) => [key, h("input", { name: key, placeholder: key, value: params.get(key) || "" })]));
  const form = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    ctx.go("#/audit" + query(Object.fromEntries(fields.map((key) => [key, inputs[key].value.trim()]))));
  } }, fields.map((key) => h("label", {}, key[0].toUpperCase() + key.slice(1), inputs[key])), h("button", { type: "submit" }, "Filter"));
  const filters = Object.fromEntries(fields.map((key) => [key, params.get(key) || ""]));
  const page = await get("/audit" + query({ ...filters, cursor: params.get("cursor") || "", limit: 50 }));
  const rows = page.items.map((entry) =>
    h("tr", {},
      h("td", {}, when(entry.at)),
      h("td", {}, `${entry.actor.name || "—"} (${entry.actor.role || "?"})`),
      h("td", {}, h("code", {}, entry.action)),
      h("td", {}, entry.target || "—"),
      h("td", { class: "details" }, Object.keys(entry.details).length ? JSON.stringify(entry.details) : "")));
  const next = page.nextCursor ? h("a", { class: "button secondary", href: "#/audit" + query({ ...filters, cursor: page.nextCursor }) }, "Next page →") : null;
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Audit trail")), form,
    table(["When (UTC)", "Actor", "Action", "Target", "Details"], rows), h("div", { class: "pager" }, next));
}
