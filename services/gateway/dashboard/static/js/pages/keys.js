// API keys: make one (shown once), the list, revoke.
import {call, get, path, post} from "../api.js";
import {badge, codeBlock, field, h, table, when, fill} from "../dom.js";
import {busy, confirmButton, notice, pageHeader, section, nextPageButton} from "../ui.js";

const SCOPES = [["full", "full: everything"], ["render", "render: render, cancel, share, download"],
  ["download", "download: read and download renders (a partner key)"]];

export async function render(main, _params, context) {
  const name = h("input", {id: "key-name", maxlength: "200", placeholder: "ci-pipeline", autocomplete: "off"});
  const scope = h("select", {id: "key-scope"}, SCOPES.map(([value, label]) => h("option", {value}, label)));
  const out = h("div", {class: "out"});
  const list = h("div", {id: "keys-list"});
  const button = h("button", {type: "submit", class: "btn primary"}, "Create key");

  async function load(cursor = null) {
    const page = await get("/v1/keys", {limit: 100, cursor});
    if (!context.alive) return;
    fill(list, table(["Name", "Prefix", "Scopes", "Created", "Last used", "State", ""], page.data.map((k) => h("tr", {"data-key": k.id},
      h("td", null, k.name ? h("span", {class: "clip", title: k.name}, k.name) : "—"),
      h("td", null, h("code", null, `${k.prefix}…`)),
      h("td", null, h("div", {class: "tags"}, k.scopes.map((s) => h("span", {class: "tag"}, s)))),
      h("td", {class: "nowrap"}, when(k.createdAt)),
      h("td", {class: "nowrap"}, when(k.lastUsedAt)),
      h("td", null, badge(k.revokedAt ? "revoked" : "active")),
      h("td", {class: "row-actions"}, k.revokedAt ? null : confirmButton("Revoke", "Confirm revoke", async (b) => {
        if (await busy(b, out, () => call("DELETE", path("keys", k.id)))) await load();
      })))), "No keys."),
    nextPageButton(page, list, context, load));
  }

  fill(main, pageHeader("API keys", "Keys of this project. A key is shown once, when it is made; only its prefix is kept readable."),
    section("Create a key", h("form", {class: "grid-form", onsubmit: async (event) => {
      event.preventDefault();
      await busy(button, out, async () => {
        const made = await post("/v1/keys", {...(name.value.trim() ? {name: name.value.trim()} : {}), scopes: [scope.value]});
        fill(out, notice("Key created. Copy it now: it is shown only this once.", codeBlock(made.key, "API key")));
        name.value = "";
        await load();
      });
    }}, field("Name", name), field("Scope", scope, null, true), h("div", {class: "form-actions"}, button)), out),
    section("Keys", list));
  await load();
}
