// Secrets (admin): names and grants; add, rotate, delete. Values are typed once, never shown.
import { api, get } from "../api.js";
import { h, clear, table, when, notice } from "../dom.js";

export async function render(main, route, ctx) {
  const status = notice();
  const body = h("div");
  const name = h("input", { name: "name", placeholder: "AVAILABILITY_API_KEY", "aria-label": "Secret name",
    pattern: "[A-Za-z_][A-Za-z0-9_]{0,63}", required: true });
  const value = h("input", { name: "value", type: "password", autocomplete: "new-password", "aria-label": "Secret value", placeholder: "value", required: true });
  const put = async (secretName, secretValue, verb) => {
    try {
      await api("PUT", `/secrets/${encodeURIComponent(secretName)}`, { value: secretValue });
      status.ok(`${verb} ${secretName}.`);
      await draw();
    } catch (err) {
      status.error(err);
    }
  };
  const form = h("form", { class: "row add-secret", onsubmit: async (event) => {
    event.preventDefault();
    await put(name.value.trim(), value.value, "Saved");
    value.value = "";
    name.value = "";
  } }, name, value, h("button", { type: "submit" }, "Add secret"));

  const rotateRow = (secret) => {
    const input = h("input", { type: "password", autocomplete: "new-password", placeholder: "new value", "aria-label": `New value for ${secret.name}` });
    return h("form", { class: "row rotate", onsubmit: async (event) => {
      event.preventDefault();
      if (input.value) await put(secret.name, input.value, "Rotated");
    } }, input, h("button", { type: "submit", class: "small" }, "Rotate"));
  };
  const remove = async (secret) => {
    const users = secret.grantedTo.length ? ` It is granted to ${secret.grantedTo.join(", ")}, which will get None.` : "";
    if (!window.confirm(`Delete ${secret.name}?${users}`)) return;
    try {
      await api("DELETE", `/secrets/${encodeURIComponent(secret.name)}`);
      status.ok(`Deleted ${secret.name}.`);
      await draw();
    } catch (err) {
      status.error(err);
    }
  };
  async function draw() {
    const { items } = await get("/secrets");
    clear(body, table(["Name", "Granted to", "Updated", "By", "Rotate", ""], items.map((s) =>
      h("tr", { dataset: { secret: s.name } },
        h("td", {}, h("code", {}, s.name)),
        h("td", {}, s.grantedTo.join(", ") || "—"),
        h("td", { class: "updated" }, when(s.updatedAt)),
        h("td", {}, s.updatedBy || "—"),
        h("td", {}, rotateRow(s)),
        h("td", {}, h("button", { type: "button", class: "small danger", onclick: () => remove(s) }, "Delete")))),
    { empty: "No secrets yet." }));
  }
  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Secrets")),
    h("p", { class: "muted" }, "Values are encrypted at rest and never shown again; snippets read the ones they are granted with os.getenv(NAME)."),
    form, status, body);
  await draw();
}
