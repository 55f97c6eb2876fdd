// Executions: a filterable, paginated table, and one execution in detail.
import { api, get, query, ApiError } from "../api.js";
import { h, clear, table, when, ms, badge, json, listing, notice } from "../dom.js";

const STATUSES = ["", "success", "error", "timeout", "memory_exceeded", "crashed", "output_invalid", "rate_limited", "pending", "running"];
const FILTERS = ["snippet", "status", "objectId", "since", "until", "q"];

export async function render(main, route, ctx) {
  if (route.args.length) return detail(main, route.args[0], ctx);
  const params = route.params;
  const inputs = {
    snippet: h("input", { name: "snippet", placeholder: "snippet", value: params.get("snippet") || "" }),
    status: h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === (params.get("status") || "") }, s || "any status"))),
    objectId: h("input", { name: "objectId", placeholder: "object id", value: params.get("objectId") || "" }),
    since: h("input", { name: "since", type: "datetime-local", value: local(params.get("since")) }),
    until: h("input", { name: "until", type: "datetime-local", value: local(params.get("until")) }),
    q: h("input", { name: "q", type: "search", placeholder: "search logs and errors", value: params.get("q") || "" }),
  };
  const form = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const values = Object.fromEntries(FILTERS.map((key) => [key, inputs[key].value.trim()]));
    for (const key of ["since", "until"]) values[key] = values[key] ? new Date(values[key]).toISOString() : "";
    ctx.go("#/executions" + query(values));
  } },
    h("label", {}, "Snippet", inputs.snippet), h("label", {}, "Status", inputs.status),
    h("label", {}, "Object", inputs.objectId), h("label", {}, "Since", inputs.since),
    h("label", {}, "Until", inputs.until), h("label", {}, "Search", inputs.q),
    h("button", { type: "submit" }, "Filter"));

  const filters = Object.fromEntries(FILTERS.map((key) => [key, params.get(key) || ""]));
  const page = await get("/executions" + query({ ...filters, cursor: params.get("cursor") || "", limit: 25 }));
  const rows = page.items.map((e) =>
    h("tr", {},
      h("td", {}, h("a", { href: `#/executions/${encodeURIComponent(e.id)}` }, when(e.createdAt))),
      h("td", {}, e.snippet, h("span", { class: "muted" }, ` v${e.version}`)),
      h("td", {}, badge(e.status)),
      h("td", {}, e.objectId ?? "—"),
      h("td", {}, ms(e.durationMs)),
      h("td", {}, e.attempts),
      h("td", { class: "last-error" }, e.error ? `${e.error.type}: ${e.error.message}` : "")));
  const next = page.nextCursor
    ? h("a", { class: "button secondary", href: "#/executions" + query({ ...filters, cursor: page.nextCursor }) }, "Next page →")
    : null;
  const first = params.get("cursor") ? h("a", { class: "button secondary", href: "#/executions" + query(filters) }, "← First page") : null;
  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Executions")),
    form,
    table(["When (UTC)", "Snippet", "Status", "Object", "Duration", "Attempts", "Error"], rows, { empty: "No executions match." }),
    h("div", { class: "pager" }, first, next));
}

function local(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

let retryAvailable = null;
async function canRetry() {
  // The retry route ships with the queue; offer the button only where the server has it.
  if (retryAvailable === null) {
    const spec = await fetch("/openapi.json").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
    retryAvailable = Boolean(spec.paths && spec.paths["/v1/executions/{execution_id}/retry"]);
  }
  return retryAvailable;
}

async function codeOf(execution, ctx) {
  const name = encodeURIComponent(execution.snippet);
  try {
    if (ctx.can("editor")) {
      const versions = await get(`/snippets/${name}/versions?limit=200`);
      return versions.items.find((v) => v.version === execution.version)?.code ?? null;
    }
    const snippet = await get(`/snippets/${name}`);
    return snippet.version === execution.version ? snippet.code : null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

async function detail(main, id, ctx) {
  const e = await get(`/executions/${encodeURIComponent(id)}`);
  const status = notice();
  const code = e.error && e.error.line ? await codeOf(e, ctx) : null;
  const retry = ctx.can("editor") && (await canRetry())
    ? h("button", { type: "button", onclick: async () => {
        try {
          const again = await api("POST", `/executions/${encodeURIComponent(id)}/retry`);
          const attempt = again.execution ? ` as attempt ${again.execution.attempts}` : "";
          status.ok(`Retry ${again.queued ? "queued" : "stored (the queue picks it up when it is back)"}${attempt}; reload to follow it.`);
        } catch (err) { status.error(err); }
      } }, "Retry")
    : null;
  main.append(
    h("div", { class: "page-head" },
      h("h1", {}, "Execution"), badge(e.status), h("span", { class: "spacer" }),
      h("a", { href: "#/executions" + query({ snippet: e.snippet }) }, "All executions of " + e.snippet), retry),
    status,
    h("dl", { class: "facts" },
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, e.id)),
      h("dt", {}, "Snippet"), h("dd", {}, h("a", { href: `#/snippets/${encodeURIComponent(e.snippet)}` }, e.snippet), ` v${e.version}`),
      h("dt", {}, "Record"), h("dd", {}, `${e.objectType || "—"} ${e.objectId ?? ""}`),
      h("dt", {}, "Callback"), h("dd", {}, e.callbackId || "—"),
      h("dt", {}, "HubSpot state"), h("dd", {}, e.hsExecutionState || "—"),
      h("dt", {}, "Duration"), h("dd", {}, ms(e.durationMs)),
      h("dt", {}, "Memory"), h("dd", {}, e.memoryKb == null ? "—" : `${e.memoryKb} KB`),
      h("dt", {}, "Attempts"), h("dd", {}, e.attempts),
      h("dt", {}, "Created"), h("dd", {}, when(e.createdAt)),
      h("dt", {}, "Finished"), h("dd", {}, when(e.finishedAt))),
    e.error ? h("section", {},
      h("h2", {}, "Error"),
      h("div", { class: "error-box" }, h("strong", {}, `${e.error.type}: `), e.error.message, e.error.line ? ` (line ${e.error.line})` : ""),
      code !== null ? listing(code, e.error.line) : null,
      e.error.traceback ? h("details", {}, h("summary", {}, "Traceback"), h("pre", { class: "logs" }, e.error.traceback)) : null) : null,
    h("h2", {}, "Output fields"), json(e.outputFields),
    h("h2", {}, "Logs"), h("pre", { class: "logs" }, e.logs || "(no output)"),
    h("h2", {}, "Event"), json(e.event),
    h("h2", {}, "Attempts"), json(e.attemptLog),
    h("h2", {}, "Write-back and callback"), json({ writeBack: e.writeBack, callback: e.callback }));
  const marked = main.querySelector(".listing .marked");
  if (marked) marked.parentNode.scrollTop = marked.offsetTop - 60;
}
