// One render: its state (refreshed while it runs), download, cancel, and its share links.
import {call, get, path} from "../api.js";
import {badge, codeBlock, field, h, table, when, fill} from "../dom.js";
import {busy, confirmButton, errorBox, notice, pageHeader, section} from "../ui.js";
import {downloadButton} from "./renders.js";

const RUNNING = new Set(["queued", "rendering"]);

export async function render(main, [id], context) {
  const head = h("div");
  const out = h("div", {class: "out"});
  const links = h("div", {id: "share-links"});
  fill(main, head, out, links);

  async function load() {
    const r = await get(path("renders", id));
    if (!context.alive) return;
    const actions = [];
    if (r.status === "succeeded" && !r.expiredAt) actions.push(downloadButton(r, out));
    if (r.status === "queued") {
      actions.push(confirmButton("Cancel render", "Confirm cancel", async (button) => {
        if (await busy(button, out, () => call("POST", path("renders", id, "cancel")))) load();
      }));
    }
    fill(head,
      pageHeader(`Render ${id}`, r.templateSlug ? `Template ${r.templateSlug}` : null, ...actions),
      section(null, h("dl", {class: "facts"},
        fact("Status", badge(r.expiredAt ? "expired" : r.status)),
        fact("Created", when(r.createdAt)),
        fact("Completed", when(r.completedAt)),
        fact("Took", r.durationMs == null ? "—" : `${r.durationMs} ms`),
        r.errorMessage ? fact("Error", h("span", {class: "error-text"}, r.errorMessage)) : null)));
    if (RUNNING.has(r.status)) refreshSoon();
    else if (r.status === "succeeded" && !links.childElementCount) await shareLinks(links, id, context);
  }
  const show = (error) => context.alive && fill(out, errorBox(error));
  /** Reloads in a moment, but not under a user about to confirm a cancel. */
  const refreshSoon = () => setTimeout(() => {
    if (!context.alive) return;
    if (head.querySelector("[data-armed='yes'], button:disabled")) refreshSoon();
    else load().catch(show);
  }, 1000);
  await load();
}

function fact(label, value) {
  return h("div", null, h("dt", null, label), h("dd", null, value));
}

async function shareLinks(area, id, context) {
  const expires = h("select", {id: "link-expires"},
    [[3600, "1 hour"], [86400, "1 day"], [604800, "7 days"], [2592000, "30 days"]].map(
      ([seconds, label]) => h("option", {value: String(seconds), selected: seconds === 604800}, label)));
  const max = h("input", {type: "number", id: "link-max", min: "1", max: "1000000", placeholder: "no limit"});
  const out = h("div", {class: "out"});
  const list = h("div");
  const button = h("button", {type: "submit", class: "btn primary"}, "Create link");

  async function load() {
    const answer = await get(path("renders", id, "share-links"));
    if (!context.alive) return;
    const items = answer.links;
    fill(list, table(["Created", "Expires", "Downloads", "Status", ""], items.map((l) => h("tr", null,
      h("td", {class: "nowrap"}, when(l.createdAt)),
      h("td", {class: "nowrap"}, when(l.expiresAt)),
      h("td", null, l.maxDownloads ? `${l.downloads} of ${l.maxDownloads}` : String(l.downloads)),
      h("td", null, badge(l.revokedAt ? "revoked" : "active")),
      h("td", {class: "row-actions"}, l.revokedAt ? null : confirmButton("Revoke", "Confirm revoke", async (b) => {
        if (await busy(b, out, () => call("DELETE", path("renders", id, "share-links", l.id)))) await load();
      })))), "No share links yet."));
  }

  fill(area, section("Share links",
    h("p", {class: "subtitle"}, "Anyone with a link downloads this PDF without a key, until it expires, runs out or is revoked."),
    h("form", {class: "grid-form", onsubmit: async (event) => {
      event.preventDefault();
      await busy(button, out, async () => {
        const body = {expiresIn: Number(expires.value)};
        if (max.value) body.maxDownloads = Number(max.value);
        const made = await call("POST", path("renders", id, "share-links"), {json: body});
        fill(out, notice("Link created. Copy it now: it is shown only once.", codeBlock(made.url, "Share link")));
        await load();
      });
    }}, field("Expires in", expires), field("Downloads at most", max),
    h("div", {class: "form-actions"}, button)),
    out, list));
  await load().catch((error) => fill(list, errorBox(error)));
}
