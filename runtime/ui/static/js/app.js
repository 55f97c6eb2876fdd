// The console's entry: who is logged in, the navigation, and routing on the URL fragment.
import { get, cookie } from "./api.js";
import { h, clear } from "./dom.js";
import * as snippets from "./pages/snippets.js";
import * as editor from "./pages/editor.js";
import * as versions from "./pages/versions.js";
import * as executions from "./pages/executions.js";
import * as secrets from "./pages/secrets.js";
import * as tokens from "./pages/tokens.js";
import * as audit from "./pages/audit.js";

const RANK = { viewer: 0, editor: 1, admin: 2 };

// [pattern, page module, least role]; the API checks roles again whatever the page shows.
const ROUTES = [
  [/^\/?$/, snippets, "viewer"],
  [/^\/snippets$/, snippets, "viewer"],
  [/^\/new$/, editor, "editor"],
  [/^\/snippets\/([^/]+)$/, editor, "viewer"],
  [/^\/snippets\/([^/]+)\/versions$/, versions, "editor"],
  [/^\/executions$/, executions, "viewer"],
  [/^\/executions\/([^/]+)$/, executions, "viewer"],
  [/^\/secrets$/, secrets, "admin"],
  [/^\/tokens$/, tokens, "admin"],
  [/^\/audit$/, audit, "admin"],
];

const NAV = [
  ["#/snippets", "Snippets", "viewer"],
  ["#/executions", "Executions", "viewer"],
  ["#/secrets", "Secrets", "admin"],
  ["#/tokens", "Tokens", "admin"],
  ["#/audit", "Audit", "admin"],
];

let cleanup = null;

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/snippets";
  const [path, search = ""] = raw.split("?");
  return { path, params: new URLSearchParams(search) };
}

async function route(ctx) {
  const { path, params } = parseHash();
  const main = document.getElementById("main");
  if (cleanup) cleanup();
  cleanup = null;
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", path.startsWith(link.getAttribute("href").slice(1)));
  }
  for (const [pattern, page, least] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    if (!ctx.can(least)) {
      clear(main, h("p", { class: "error" }, `This page needs the ${least} role.`));
      return;
    }
    clear(main);
    try {
      cleanup = (await page.render(main, { args: match.slice(1).map(decodeURIComponent), params, path }, ctx)) || null;
    } catch (err) {
      main.append(h("p", { class: "error" }, err.message || String(err)));
    }
    return;
  }
  clear(main, h("p", { class: "error" }, "No such page."));
}

async function start() {
  const me = await get("/me");
  const ctx = {
    me,
    can: (least) => RANK[me.role] >= RANK[least],
    go: (hash) => {
      if (window.location.hash === hash) route(ctx);
      else window.location.hash = hash;
    },
  };
  document.body.dataset.role = me.role;
  clear(document.getElementById("who"), `${me.name} · ${me.role}`);
  clear(
    document.getElementById("nav"),
    NAV.filter(([, , least]) => ctx.can(least)).map(([href, label]) => h("a", { href }, label)),
  );
  document.querySelector("#logout input[name=csrf]").value = cookie("codehook_csrf");
  window.addEventListener("hashchange", () => route(ctx));
  await route(ctx);
}

start();
