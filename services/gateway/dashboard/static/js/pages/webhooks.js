// Webhook endpoints: add one (its signing secret is shown once), the list, each one's log.
import {get, post} from "../api.js";
import {badge, codeBlock, field, h, link, table, when, fill} from "../dom.js";
import {busy, notice, pageHeader, section, nextPageButton} from "../ui.js";

const EVENTS = [["render.succeeded", true], ["render.failed", true], ["render.cancelled", false]];

export async function render(main, _params, context) {
  const url = h("input", {type: "url", id: "webhook-url", required: true, maxlength: "2048",
    placeholder: "https://example.com/craftkit-webhook", autocomplete: "off"});
  const boxes = EVENTS.map(([name, on]) => h("input", {type: "checkbox", value: name, checked: on, name: "events"}));
  const out = h("div", {class: "out"});
  const list = h("div", {id: "webhooks-list"});
  const button = h("button", {type: "submit", class: "btn primary"}, "Add endpoint");

  async function load(cursor = null) {
    const page = await get("/v1/webhooks", {limit: 50, cursor});
    if (!context.alive) return;
    fill(list, table(["Endpoint", "Events", "State", "Created", ""], page.webhooks.map((w) => h("tr", {"data-webhook": w.id},
      h("td", {class: "break"}, w.url),
      h("td", null, h("div", {class: "tags"}, w.events.map((e) => h("span", {class: "tag"}, e)))),
      h("td", null, badge(!w.enabled ? "disabled" : w.pausedUntil ? "paused" : "active")),
      h("td", {class: "nowrap"}, when(w.createdAt)),
      h("td", {class: "row-actions"}, link(["webhooks", w.id], "Deliveries")))),
    "No endpoints yet: add one above to hear when a render finishes."),
    nextPageButton(page, list, context, load));
  }

  fill(main, pageHeader("Webhooks", "Craftkit POSTs a signed event to each endpoint when a render finishes."),
    section("Add an endpoint", h("form", {class: "grid-form", onsubmit: async (event) => {
      event.preventDefault();
      await busy(button, out, async () => {
        const events = boxes.filter((b) => b.checked).map((b) => b.value);
        const made = await post("/v1/webhooks", {url: url.value.trim(), events});
        fill(out, notice("Endpoint added. Copy its signing secret now: it is shown only once.",
          codeBlock(made.secret, "Signing secret")));
        url.value = "";
        await load();
      });
    }},
    field("URL", url, "Where Craftkit POSTs the events: http:// or https://, a public address.", true),
    h("fieldset", {class: "field"}, h("legend", {class: "label"}, "Events"),
      h("div", {class: "checks"}, boxes.map((box) => h("label", {class: "check"}, box, box.value)))),
    h("div", {class: "form-actions"}, button)), out),
    section("Endpoints", list));
  await load();
}
