// Snippets: each one's version, success rate, p95 duration and last error over 24 hours.
import { get, query } from "../api.js";
import { h, clear, table, ms } from "../dom.js";

const FAILED = ["error", "timeout", "memory_exceeded", "crashed", "output_invalid"];

async function health(name) {
  const [stats, failures] = await Promise.all([
    get("/executions/stats" + query({ snippet: name })),
    get("/executions" + query({ snippet: name, limit: 20 })),
  ]);
  const done = Object.entries(stats.byStatus)
    .filter(([status]) => status === "success" || FAILED.includes(status))
    .reduce((sum, [, n]) => sum + n, 0);
  const rate = done ? Math.round((100 * (stats.byStatus.success || 0)) / done) : null;
  const lastError = failures.items.find((e) => FAILED.includes(e.status));
  return { total: stats.total, rate, p95: stats.durationMs.p95, lastError };
}

function row(snippet, info) {
  const error = info.lastError;
  return h(
    "tr",
    { dataset: { snippet: snippet.name } },
    h("td", {}, h("a", { href: `#/snippets/${encodeURIComponent(snippet.name)}` }, snippet.name)),
    h("td", {}, `v${snippet.version}`),
    h("td", {}, snippet.mode || "sync"),
    h("td", {}, info.total),
    h("td", { class: info.rate !== null && info.rate < 90 ? "warn" : "" }, info.rate === null ? "—" : `${info.rate} %`),
    h("td", {}, ms(info.p95)),
    h(
      "td",
      { class: "last-error" },
      error
        ? h("a", { href: `#/executions/${error.id}`, title: error.error?.message || error.status },
            `${error.error?.type || error.status}: ${error.error?.message || ""}`)
        : "—",
    ),
  );
}

export async function render(main, route, ctx) {
  const search = h("input", {
    type: "search", placeholder: "Search by name", "aria-label": "Search snippets",
    value: route.params.get("q") || "",
  });
  const body = h("div", {});
  main.append(
    h("div", { class: "page-head" },
      h("h1", {}, "Snippets"),
      search,
      ctx.can("editor") ? h("a", { class: "button", href: "#/new" }, "New snippet") : null),
    h("p", { class: "muted" }, "Success rate, p95 duration and last error over the last 24 hours."),
    body,
  );
  const items = [];
  let cursor = null;
  do {
    const page = await get("/snippets" + query({ cursor, limit: 200 }));
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  const infos = await Promise.all(items.map((s) => health(s.name)));
  const draw = () => {
    const needle = search.value.trim().toLowerCase();
    const rows = items
      .map((s, i) => [s, infos[i]])
      .filter(([s]) => s.name.includes(needle))
      .map(([s, info]) => row(s, info));
    clear(body, table(["Name", "Version", "Mode", "Runs", "Success", "p95", "Last error"], rows, {
      empty: needle ? "No snippet matches." : "No snippets yet.",
    }));
  };
  search.addEventListener("input", draw);
  draw();
}
