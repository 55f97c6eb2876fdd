// The test panel: pick or paste an event, dry-run the saved version, read what it did.
import { api, get, query } from "../api.js";
import { h, clear, json, badge, ms } from "../dom.js";

function sampleEvent(snippet) {
  const inputs = Object.fromEntries((snippet.inputFields || []).map((f) => [f.name, f.name === "email" ? "ada@example.com" : "sample"]));
  return {
    callbackId: "ap-test-1",
    origin: { portalId: 1, actionDefinitionId: 1 },
    object: { objectId: 101, objectType: "CONTACT" },
    inputFields: inputs,
  };
}

export function testPanel(snippet, { isDirty, markError }) {
  const event = h("textarea", { class: "event", rows: 10, spellcheck: "false", "aria-label": "Test event (JSON)" },
    JSON.stringify(sampleEvent(snippet), null, 2));
  const picker = h("select", { "aria-label": "Sample event" },
    h("option", { value: "sample" }, "Sample contact event"));
  const result = h("div", { class: "result", "aria-live": "polite" });
  const runButton = h("button", { type: "button", onclick: () => run() }, "Run test", h("kbd", {}, "Ctrl-↵"));

  // Recent executions' events make realistic samples.
  get("/executions" + query({ snippet: snippet.name, limit: 5 })).then((page) => {
    for (const e of page.items) {
      picker.append(h("option", { value: e.id }, `event of ${e.status} run, object ${e.objectId ?? "?"} (${e.id.slice(0, 8)})`));
    }
  }).catch(() => {});
  picker.addEventListener("change", async () => {
    if (picker.value === "sample") {
      event.value = JSON.stringify(sampleEvent(snippet), null, 2);
      return;
    }
    const execution = await get(`/executions/${encodeURIComponent(picker.value)}`);
    event.value = JSON.stringify(execution.event, null, 2);
  });

  async function run() {
    let body;
    try {
      body = JSON.parse(event.value || "{}");
    } catch (err) {
      clear(result, h("p", { class: "error" }, `The event is not valid JSON: ${err.message}`));
      return;
    }
    clear(result, h("p", { class: "muted" }, "Running…"));
    runButton.disabled = true;
    try {
      const r = await api("POST", `/snippets/${encodeURIComponent(snippet.name)}/test`, { event: body });
      const note = isDirty() ? h("p", { class: "warn" }, `Ran saved version ${r.version}; unsaved changes were not tested (save first).`) : null;
      clear(result,
        note,
        h("dl", { class: "facts" },
          h("dt", {}, "Status"), h("dd", { class: "test-status" }, badge(r.status)),
          h("dt", {}, "Version"), h("dd", {}, `v${r.version}`),
          h("dt", {}, "Duration"), h("dd", { class: "test-duration" }, ms(r.durationMs)),
          h("dt", {}, "Memory"), h("dd", { class: "test-memory" }, r.memoryKb == null ? "—" : `${r.memoryKb} KB`)),
        r.error ? h("div", { class: "error-box" },
          h("strong", {}, `${r.error.type}: `), r.error.message, r.error.line ? ` (line ${r.error.line})` : "") : null,
        h("h3", {}, "Output fields"), json(r.outputFields),
        h("h3", {}, "Logs"), h("pre", { class: "logs test-logs" }, r.logs || "(no output)"),
        h("h3", {}, "Would write to the CRM"),
        r.wouldWrite ? json(r.wouldWrite) : h("p", { class: "muted would-write" }, "Nothing (no write-back mapping, or no outputs to write)."),
      );
      if (r.error && r.error.line && !isDirty()) markError({ line: r.error.line, message: `${r.error.type}: ${r.error.message}` });
    } catch (err) {
      clear(result, h("p", { class: "error" }, err.message));
    } finally {
      runButton.disabled = false;
    }
  }

  const el = h("section", { class: "test-panel" },
    h("h2", {}, "Test (dry run: nothing is written to the CRM)"),
    h("div", { class: "test-grid" },
      h("div", {}, h("div", { class: "row" }, picker, runButton), event),
      result));
  return { el, run };
}
