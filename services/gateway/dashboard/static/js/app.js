// The dashboard: a hash router over pages; each page builds its DOM from API answers.
import {session} from "./api.js";
import {h, fill} from "./dom.js";
import {errorBox} from "./ui.js";
import * as signin from "./pages/signin.js";
import * as templates from "./pages/templates.js";
import * as template from "./pages/template.js";
import * as editor from "./pages/editor.js";
import * as renders from "./pages/renders.js";
import * as render from "./pages/render.js";
import * as webhooks from "./pages/webhooks.js";
import * as webhook from "./pages/webhook.js";
import * as keys from "./pages/keys.js";

const ROUTES = [
  [/^templates$/, templates, "templates"],
  [/^templates\/([^/]+)$/, template, "templates"],
  [/^templates\/([^/]+)\/edit$/, editor, "templates"],
  [/^renders$/, renders, "renders"],
  [/^renders\/([^/]+)$/, render, "renders"],
  [/^webhooks$/, webhooks, "webhooks"],
  [/^webhooks\/([^/]+)$/, webhook, "webhooks"],
  [/^keys$/, keys, "keys"],
];

const NAV = [["templates", "Templates"], ["renders", "Renders"], ["webhooks", "Webhooks"],
  ["keys", "API keys"]];

let current = {alive: false};  // the shown page's context; its timers stop when it goes
let signedOutBecause = null;

function shell(section) {
  return h("div", {class: "shell"},
    h("header", {class: "topbar"},
      h("a", {class: "brand", href: "#/templates"}, h("span", {class: "logo"}, "◆"), "Craftkit"),
      h("nav", {"aria-label": "Sections"}, NAV.map(([id, label]) =>
        h("a", {href: `#/${id}`, class: id === section ? "active" : null,
          "aria-current": id === section ? "page" : null}, label))),
      h("button", {type: "button", class: "btn ghost small", id: "sign-out",
        onclick: () => { session.signOut(); location.hash = "#/signin"; }}, "Sign out")),
    h("main", {id: "main"}));
}

async function show() {
  current.alive = false;
  const context = {alive: true};
  current = context;
  const hash = location.hash.replace(/^#\/?/, "");
  const root = document.getElementById("app");
  if (!session.key || hash === "signin") {
    if (hash !== "signin") { location.hash = "#/signin"; return; }
    fill(root, h("main", {id: "main", class: "signin-main"}));
    await run(signin, document.getElementById("main"), [], context, signedOutBecause);
    signedOutBecause = null;
    return;
  }
  for (const [pattern, page, section] of ROUTES) {
    const match = pattern.exec(hash);
    if (match) {
      fill(root, shell(section));
      const params = match.slice(1);
      await run(page, document.getElementById("main"), params, context);
      return;
    }
  }
  location.hash = "#/templates";
}

/** Path segments were encoded by dom.route; a malformed one is kept as typed. */
async function run(page, main, params, context, extra) {
  const decoded = params.map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  try {
    await page.render(main, decoded, context, extra);
  } catch (error) {
    if (context.alive) fill(main, errorBox(error));
  }
}

window.addEventListener("craftkit:signed-out", (event) => {
  if (location.hash === "#/signin") return;  // a wrong key at sign-in: the form says so
  signedOutBecause = event.detail;
  location.hash = "#/signin";
});
window.addEventListener("hashchange", show);
show();
