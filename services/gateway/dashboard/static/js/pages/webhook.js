// One endpoint's delivery log (newest first, refreshed every few seconds) with redeliver.
import {get, path, post} from "../api.js";
import {badge, h, link, table, when, fill} from "../dom.js";
import {busy, errorBox, notice, pageHeader, section} from "../ui.js";

const REFRESH_MS = 2000;

export async function render(main, [id], context) {
  const endpoints = await get("/v1/webhooks", {limit: 100});
  const endpoint = endpoints.webhooks.find((w) => w.id === id);
  if (!context.alive) return;
  const out = h("div", {class: "out"});
  const list = h("div", {id: "deliveries"});
  let cursor = null;
  let timer = null;  // the one pending refresh: a reload (Redeliver, Next page) replaces it

  async function load() {
    clearTimeout(timer);
    let page;
    try {
      page = await get(path("webhooks", id, "deliveries"), {limit: 50, cursor});
    } catch (error) {
      if (context.alive) fill(list, errorBox(error));
      return;
    }
    if (!context.alive) return;
    fill(list, table(["Event", "Render", "Status", "Attempts", "Created", "Next attempt", ""],
      page.deliveries.map((d) => deliveryRow(d, id, out, load)),
      "No deliveries yet: they appear here when a render of this project finishes."),
    page.nextCursor ? h("button", {type: "button", class: "btn", onclick: () => { cursor = page.nextCursor; load(); }}, "Next page") : null);
    clearTimeout(timer);  // a load that ran beside this one scheduled its own
    if (!cursor) timer = setTimeout(() => context.alive && load(), REFRESH_MS);
  }

  fill(main,
    pageHeader("Deliveries", endpoint ? endpoint.url : `Endpoint ${id}`,
      h("a", {class: "btn ghost", href: "#/webhooks"}, "All endpoints")),
    out, section(null, list));
  await load();
}

function deliveryRow(d, endpointId, out, reload) {
  const last = d.attempts[d.attempts.length - 1];
  const redeliver = h("button", {type: "button", class: "btn small", onclick: async () => {
    const done = await busy(redeliver, out, () => post(path("webhooks", endpointId, "deliveries", d.id, "redeliver")));
    if (done) {
      fill(out, notice("Redelivery queued: it is tried again now, with the same delivery id."));
      reload();
    }
  }}, "Redeliver");
  return h("tr", {"data-delivery": d.id},
    h("td", null, d.event),
    h("td", null, link(["renders", d.renderId], h("code", null, d.renderId.slice(-12)))),
    h("td", null, badge(d.status)),
    h("td", null, String(d.attempts.length),
      last ? h("div", {class: "small muted"}, last.statusCode ? `last: HTTP ${last.statusCode}` : `last: ${last.error ?? "no answer"}`,
        ` · ${last.durationMs} ms`) : null),
    h("td", {class: "nowrap"}, when(d.createdAt)),
    h("td", {class: "nowrap"}, d.status === "pending" ? when(d.nextAttemptAt) : "—"),
    h("td", {class: "row-actions"}, redeliver));
}
