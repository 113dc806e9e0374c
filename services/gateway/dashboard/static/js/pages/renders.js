// Renders: newest first, filtered by status, template and dates, a page at a time; download a
// succeeded one, cancel a queued one. The page refreshes itself while a render on it is running.
import {call, get, path, saveAs} from "../api.js";
import {badge, field, h, link, table, when, fill} from "../dom.js";
import {busy, confirmButton, errorBox, pageHeader, section} from "../ui.js";

const STATUSES = ["queued", "rendering", "succeeded", "failed", "cancelled"];
const RUNNING = new Set(["queued", "rendering"]);
const REFRESH_MS = 1000;

export async function render(main, _params, context) {
  const status = h("select", {id: "filter-status", name: "status"},
    h("option", {value: ""}, "Any status"), STATUSES.map((s) => h("option", {value: s}, s)));
  const template = h("input", {id: "filter-template", name: "template", placeholder: "any template", autocomplete: "off"});
  const after = h("input", {type: "date", id: "filter-from", name: "from"});
  const before = h("input", {type: "date", id: "filter-to", name: "to"});
  const list = h("div", {id: "renders-list"});
  const out = h("div", {class: "out"});
  const pages = [];  // the cursors of the pages before this one
  let cursor = null;
  let timer = null;

  const filters = () => ({status: status.value, template: template.value.trim(),
    createdAfter: after.value ? dayStart(after.value, 0) : null,
    createdBefore: before.value ? dayStart(before.value, 1) : null});

  async function load() {
    clearTimeout(timer);
    out.replaceChildren();
    let page;
    try {
      page = await get("/v1/renders", {...filters(), limit: 20, cursor});
    } catch (error) {
      if (context.alive) fill(list, errorBox(error));
      return;
    }
    if (!context.alive) return;
    const rows = page.data.map((r) => row(r, out, load));
    fill(list,
      table(["Render", "Template", "Status", "Created", "Took", ""], rows,
        cursor ? "No more renders." : "No renders match these filters."),
      h("div", {class: "pager"},
        pages.length ? h("button", {type: "button", class: "btn", onclick: () => { cursor = pages.pop(); load(); }}, "Previous page") : null,
        page.nextCursor ? h("button", {type: "button", class: "btn", id: "next-page", onclick: () => { pages.push(cursor); cursor = page.nextCursor; load(); }}, "Next page") : null));
    if (page.data.some((r) => RUNNING.has(r.status))) refreshSoon();
  }

  /** Reloads the page in a moment, but not under a user about to confirm a cancel. */
  function refreshSoon() {
    timer = setTimeout(() => {
      if (!context.alive) return;
      if (list.querySelector("[data-armed='yes'], button:disabled")) refreshSoon();
      else load();
    }, REFRESH_MS);
  }

  const form = h("form", {class: "filters", onsubmit: (event) => {
    event.preventDefault();
    pages.length = 0;
    cursor = null;
    load();
  }},
  field("Status", status), field("Template", template), field("Created from", after), field("to", before),
  h("div", {class: "form-actions"}, h("button", {type: "submit", class: "btn primary"}, "Apply")));
  fill(main, pageHeader("Renders", "Every PDF your project asked for, newest first."),
    section(null, form), out, section(null, list));
  await load();
}

/** Local midnight of an <input type=date> value, `days` later, as the API's ISO time. */
function dayStart(value, days) {
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

export function row(r, out, reload) {
  const actions = [];
  if (r.status === "succeeded") actions.push(downloadButton(r, out));
  if (r.status === "queued") {
    actions.push(confirmButton("Cancel", "Confirm cancel", async (button) => {
      const done = await busy(button, out, () => call("POST", path("renders", r.id, "cancel")));
      if (done) reload();
    }));
  }
  return h("tr", {"data-render": r.id},
    h("td", null, link(["renders", r.id], h("code", null, r.id.slice(-12)))),
    h("td", null, r.templateSlug ?? "—"),
    h("td", null, badge(r.expiredAt ? "expired" : r.status),
      r.errorMessage ? h("div", {class: "small error-text"}, r.errorMessage) : null),
    h("td", {class: "nowrap"}, when(r.createdAt)),
    h("td", {class: "nowrap"}, r.durationMs == null ? "—" : `${r.durationMs} ms`),
    h("td", {class: "row-actions"}, actions));
}

export function downloadButton(r, out) {
  const button = h("button", {type: "button", class: "btn small", onclick: () => busy(button, out, async () => {
    const response = await call("GET", path("renders", r.id, "download"), {raw: true});
    await saveAs(response, `${r.id}.pdf`);
  })}, "Download");
  return button;
}
