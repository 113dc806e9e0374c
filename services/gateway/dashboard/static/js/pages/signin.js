// Sign in with an API key: checked with one request, then kept in this tab's session only.
import {ApiError, get, session} from "../api.js";
import {field, h, fill} from "../dom.js";
import {busy, errorBox} from "../ui.js";

export async function render(main, _params, _context, signedOutBecause) {
  const key = h("input", {type: "password", id: "api-key", name: "api-key", required: true,
    autocomplete: "off", spellcheck: "false", placeholder: "ck_live_…"});
  const out = h("div", {class: "out"},
    signedOutBecause ? errorBox(new ApiError(401, signedOutBecause.code,
      `Signed out: ${signedOutBecause.message}. Sign in again with a valid key.`)) : null);
  const button = h("button", {type: "submit", class: "btn primary wide"}, "Sign in");
  const form = h("form", {class: "signin card", onsubmit: async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    session.signIn(value);
    const ok = await busy(button, out, async () => {
      await get("/v1/renders", {limit: 1});  // any key's scope reads renders
      return true;
    });
    if (ok) location.hash = "#/templates";
    else session.signOut();
  }},
  h("div", {class: "brand big"}, h("span", {class: "logo"}, "◆"), "Craftkit"),
  h("h1", null, "Sign in"),
  h("p", {class: "subtitle"},
    "Use an API key of your project. It is kept in this browser tab only and forgotten when you sign out or close the tab."),
  field("API key", key),
  button,
  out);
  fill(main, form);
  key.focus();
}
