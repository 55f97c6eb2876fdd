// API tokens (admin): list with last use, create (the value is shown once), revoke.
import { api, get } from "../api.js";
import { h, clear, table, when, notice } from "../dom.js";

export async function render(main, route, ctx) {
  const status = notice();
  const body = h("div");
  const shown = h("div");
  const name = h("input", { placeholder: "name (who or what uses it)", "aria-label": "Token name", required: true });
  const role = h("select", { "aria-label": "Role" }, ["viewer", "editor", "admin"].map((r) => h("option", { value: r }, r)));
  const form = h("form", { class: "row", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const created = await api("POST", "/tokens", { name: name.value.trim(), role: role.value });
      clear(shown, h("div", { class: "error-box ok-box" },
        h("p", {}, `Token for ${created.name} (${created.role}); copy it now, it is not shown again:`),
        h("code", { class: "wrap new-token" }, created.token)));
      name.value = "";
      await draw();
    } catch (err) {
      status.error(err);
    }
  } }, name, role, h("button", { type: "submit" }, "Create token"));
  const revoke = async (token) => {
    if (token.id === ctx.me.id && !window.confirm("This is the token you are logged in with; revoke it and log out?")) return;
    try {
      await api("DELETE", `/tokens/${token.id}`);
      status.ok(`Revoked ${token.name}.`);
      await draw();
    } catch (err) {
      status.error(err);
    }
  };
  async function draw() {
    const { items } = await get("/tokens");
    clear(body, table(["Id", "Name", "Role", "Created", "Last used", ""], items.map((t) =>
      h("tr", {},
        h("td", {}, t.id), h("td", {}, t.name, t.id === ctx.me.id ? h("span", { class: "badge" }, "you") : null),
        h("td", {}, t.role), h("td", {}, when(t.createdAt)), h("td", {}, when(t.lastUsedAt)),
        h("td", {}, h("button", { type: "button", class: "small danger", onclick: () => revoke(t) }, "Revoke"))))));
  }
  main.append(h("div", { class: "page-head" }, h("h1", {}, "API tokens")), form, shown, status, body);
  await draw();
}
