// The editor: code with inline compile errors, settings, save (Ctrl/Cmd-S) and the test panel.
import { api, get, query, ApiError } from "../api.js";
import { h, clear, notice } from "../dom.js";
import { createEditor } from "../code-editor.js";
import { settingsForm } from "./settings-form.js";
import { testPanel } from "./test-panel.js";

const STARTER = `import os


def main(event):
    email = event["inputFields"].get("email")
    print("got", email)
    return {"outputFields": {"greeting": "hello " + str(email)}}
`;
const VALIDATE_DELAY_MS = 400;

export async function render(main, route, ctx) {
  const isNew = route.path === "/new";
  const canEdit = ctx.can("editor");
  const snippet = isNew
    ? { code: STARTER, inputFields: [{ name: "email", required: false }], outputFields: { greeting: "string" } }
    : await get(`/snippets/${encodeURIComponent(route.args[0])}`);
  const secretNames = canEdit ? (await get("/secret-names")).items : [];
  const status = notice();
  const check = h("span", { class: "check muted", "aria-live": "polite" });
  const issueList = h("ul", { class: "issues" });
  const nameInput = isNew
    ? h("input", { "aria-label": "Snippet name", placeholder: "snippet-name", pattern: "[a-z0-9][a-z0-9_-]{0,62}", required: true })
    : null;

  let saved = snippet.code;
  let timer = null;
  let sequence = 0;

  const showIssues = (issues) => {
    code.showIssues(issues);
    clear(issueList, issues.map((i) => h("li", { class: "error" }, i.line ? `line ${i.line}: ${i.message}` : i.message)));
  };
  const validate = async () => {
    const mine = ++sequence;
    clear(check, "checking…");
    try {
      const { issues } = await api("POST", "/snippets/validate", { code: code.code });
      if (mine !== sequence) return; // a newer edit is being checked
      showIssues(issues);
      clear(check, issues.length ? `${issues.length} problem(s)` : "compiles");
    } catch (err) {
      if (mine === sequence) clear(check, `not checked: ${err.message}`);
    }
  };
  const onChange = (text) => {
    dirty.hidden = text === saved;
    if (!canEdit) return;
    clearTimeout(timer);
    timer = setTimeout(validate, VALIDATE_DELAY_MS);
  };

  const save = async () => {
    if (!canEdit) return;
    clearTimeout(timer);
    const body = { code: code.code, ...settings.values() };
    status.info("Saving…");
    try {
      if (isNew) {
        const created = await api("POST", "/snippets", { name: nameInput.value.trim(), ...body });
        saved = body.code;
        ctx.go(`#/snippets/${encodeURIComponent(created.name)}`);
        return;
      }
      const updated = await api("PUT", `/snippets/${encodeURIComponent(snippet.name)}`, body);
      saved = body.code;
      dirty.hidden = true;
      version.textContent = `v${updated.version}`;
      snippet.version = updated.version;
      showIssues([]);
      status.ok(updated.changed ? `Saved version ${updated.version}.` : `No changes; still version ${updated.version}.`);
    } catch (err) {
      if (err instanceof ApiError && err.code === "compile_error") showIssues(err.details || []);
      status.error(err);
    }
  };

  let panel = null;
  const test = () => panel && panel.run();

  const code = createEditor(h("div"), { doc: snippet.code, readOnly: !canEdit, onChange, onSave: save, onTest: test });
  const settings = settingsForm(snippet, { secretNames, canEdit });
  const version = h("span", { class: "badge" }, isNew ? "new" : `v${snippet.version}`);
  const dirty = h("span", { class: "badge warn", hidden: true }, "unsaved");

  const buttons = canEdit
    ? [
        h("button", { type: "button", onclick: save, title: "Ctrl/Cmd-S" }, "Save", h("kbd", {}, "Ctrl-S")),
        isNew ? null : h("button", { type: "button", class: "secondary", onclick: test, title: "Ctrl/Cmd-Enter" }, "Test", h("kbd", {}, "Ctrl-↵")),
      ]
    : [h("span", { class: "muted" }, "Read only (viewer)")];
  const links = isNew
    ? []
    : [
        canEdit ? h("a", { href: `#/snippets/${encodeURIComponent(snippet.name)}/versions` }, "Versions") : null,
        h("a", { href: "#/executions" + query({ snippet: snippet.name }) }, "Executions"),
      ];

  main.append(
    h("div", { class: "page-head" },
      h("h1", {}, isNew ? nameInput : snippet.name), version, dirty, h("span", { class: "spacer" }), links, buttons),
    status,
    h("div", { class: "editor-grid" },
      h("section", { class: "code-pane" }, code.view.dom.parentNode, h("div", { class: "below" }, check, issueList)),
      h("aside", { class: "side" },
        isNew ? null : hookInfo(snippet),
        settings.el)),
  );
  if (canEdit && !isNew) {
    panel = testPanel(snippet, { isDirty: () => code.code !== saved, markError: (e) => showIssues([e]) });
    main.append(panel.el);
  }
  if (canEdit) validate();

  // Save and test from anywhere on the page, not only inside the code.
  const onKey = (event) => {
    if (event.defaultPrevented || !(event.ctrlKey || event.metaKey)) return;
    if (event.key === "s") { event.preventDefault(); save(); }
    else if (event.key === "Enter") { event.preventDefault(); test(); }
  };
  document.addEventListener("keydown", onKey);
  code.focus();
  return () => {
    clearTimeout(timer);
    document.removeEventListener("keydown", onKey);
  };
}

function hookInfo(snippet) {
  return h("details", { class: "group hook" },
    h("summary", {}, "Hook URL"),
    h("code", { class: "wrap" }, snippet.hookUrl),
    snippet.hookToken ? h("p", {}, "Hook token: ", h("code", { class: "wrap" }, snippet.hookToken)) : null);
}
