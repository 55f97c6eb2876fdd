// The editor's settings: inputs, outputs with types, secret grants, limits, mode, write-back.
import { h } from "../dom.js";

export const OUTPUT_TYPES = ["string", "number", "bool", "datetime", "date", "enumeration", "phone_number"];

const split = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

// A list of editable rows with an "Add" button; each row is built by makeRow(value) and
// answers {el, value()}.
function rows(title, values, makeRow, blank, addLabel) {
  const list = h("div", { class: "rows" });
  const items = [];
  const add = (value) => {
    const item = makeRow(value);
    const remove = h("button", { type: "button", class: "icon", "aria-label": `Remove ${title} row`, title: "Remove",
      onclick: () => { items.splice(items.indexOf(item), 1); item.el.remove(); } }, "✕");
    item.el.append(remove);
    items.push(item);
    list.append(item.el);
  };
  values.forEach(add);
  const el = h("fieldset", { class: "group" }, h("legend", {}, title), list,
    h("button", { type: "button", class: "small secondary", onclick: () => add(blank()) }, addLabel));
  return { el, values: () => items.map((item) => item.value()) };
}

function inputRow(field) {
  const name = h("input", { "aria-label": "Input field name", placeholder: "email", value: field.name });
  const required = h("input", { type: "checkbox", "aria-label": "Required", checked: field.required });
  return {
    el: h("div", { class: "row" }, name, h("label", { class: "inline" }, required, "required")),
    value: () => ({ name: name.value.trim(), required: required.checked }),
  };
}

function outputRow([fieldName, decl]) {
  const type = typeof decl === "string" ? decl : decl.type;
  const options = typeof decl === "string" ? [] : (decl.options || []).map((o) => (typeof o === "object" ? o.value : o));
  const name = h("input", { "aria-label": "Output field name", placeholder: "variant", value: fieldName });
  const select = h("select", { "aria-label": "Output field type" },
    OUTPUT_TYPES.map((t) => h("option", { value: t, selected: t === type }, t)));
  const opts = h("input", { "aria-label": "Enumeration options", placeholder: "options: a, b, c", value: options.join(", ") });
  const sync = () => { opts.hidden = select.value !== "enumeration"; };
  select.addEventListener("change", sync);
  sync();
  return {
    el: h("div", { class: "row" }, name, select, opts),
    value: () => [name.value.trim(), select.value === "enumeration"
      ? { type: "enumeration", options: split(opts.value) } : select.value],
  };
}

function writeBackRow([output, property]) {
  const from = h("input", { "aria-label": "Output field", placeholder: "output field", value: output });
  const to = h("input", { "aria-label": "CRM property", placeholder: "CRM property", value: property });
  return { el: h("div", { class: "row" }, from, h("span", { class: "arrow" }, "→"), to),
    value: () => [from.value.trim(), to.value.trim()] };
}

function number(label, value, attrs) {
  const input = h("input", { type: "number", value: value ?? "", ...attrs });
  return { input, el: h("label", {}, label, input) };
}

export function settingsForm(snippet, { secretNames, canEdit }) {
  const inputs = rows("Input fields", snippet.inputFields || [], inputRow,
    () => ({ name: "", required: false }), "Add input");
  const outputs = rows("Output fields", Object.entries(snippet.outputFields || {}), outputRow,
    () => ["", "string"], "Add output");
  const granted = new Set(snippet.secrets || []);
  const names = [...new Set([...secretNames, ...granted])].sort();
  const dangling = new Set(snippet.danglingSecrets || []);
  const boxes = names.map((name) => h("input", { type: "checkbox", value: name, checked: granted.has(name) }));
  const secrets = h("fieldset", { class: "group secrets" }, h("legend", {}, "Secrets granted"),
    names.length
      ? boxes.map((box) => h("label", { class: "inline" }, box, box.value,
          dangling.has(box.value) ? h("span", { class: "warn" }, " (deleted)") : null))
      : h("p", { class: "muted" }, canEdit ? "No secrets exist yet (an admin adds them)." : "None"));
  const timeout = number("Timeout (s)", snippet.timeoutSeconds, { min: 1, step: "any", placeholder: "20" });
  const memory = number("Memory (MB)", snippet.memoryMb, { min: 8, step: 1, placeholder: "128" });
  const mode = h("select", { "aria-label": "Mode" },
    ["sync", "async"].map((m) => h("option", { value: m, selected: (snippet.mode || "sync") === m }, m)));
  const hosts = h("input", { placeholder: "api.example.com, *.hubapi.com", value: (snippet.allowedHosts || []).join(", ") });
  const writeBack = snippet.writeBack || {};
  const mapping = rows("Write-back to the CRM record", Object.entries(writeBack.properties || {}),
    writeBackRow, () => ["", ""], "Add mapping");
  const objectType = h("input", { placeholder: "same as the event", value: writeBack.objectType || "" });
  mapping.el.append(h("label", {}, "Object type", objectType));

  const el = h("fieldset", { class: "settings", disabled: !canEdit },
    inputs.el, outputs.el, secrets,
    h("fieldset", { class: "group" }, h("legend", {}, "Limits and mode"),
      h("div", { class: "row" }, timeout.el, memory.el, h("label", {}, "Mode", mode)),
      h("label", {}, "Allowed hosts (empty: any public host)", hosts)),
    mapping.el);

  const values = () => {
    const properties = Object.fromEntries(mapping.values().filter(([a, b]) => a && b));
    return {
      inputFields: inputs.values().filter((f) => f.name),
      outputFields: Object.fromEntries(outputs.values().filter(([n]) => n)),
      secrets: boxes.filter((b) => b.checked).map((b) => b.value),
      timeoutSeconds: timeout.input.value === "" ? null : Number(timeout.input.value),
      memoryMb: memory.input.value === "" ? null : Number(memory.input.value),
      mode: mode.value,
      allowedHosts: split(hosts.value).length ? split(hosts.value) : null,
      writeBack: Object.keys(properties).length
        ? { properties, ...(objectType.value.trim() ? { objectType: objectType.value.trim() } : {}) }
        : null,
    };
  };
  return { el, values };
}
