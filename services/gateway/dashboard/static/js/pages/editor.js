// The version editor: manifest and layout as JSON, each issue of a refused version shown at its
// path (and line) next to them, and a live preview of page 1 as an image. Saving adds a draft
// version; nothing here ever publishes.
import {ApiError, call, get, path, post} from "../api.js";
import {take} from "../drafts.js";
import {formatWithLines, lineOf, selectLine} from "../jsonlines.js";
import {h, link, route, fill} from "../dom.js";
import {busy, errorBox, notice, pageHeader, parseJson} from "../ui.js";

const BLANK = {manifest: {fields: {}}, layout: {body: []}};

export async function render(main, [slug], context) {
  const template = await get(path("templates", slug));
  if (!context.alive) return;
  const latest = [...template.versions].sort((a, b) => b.number - a.number)[0];
  const draft = take(slug) ?? (latest ? {manifest: latest.manifest, layout: latest.layout} : BLANK);

  const panes = {
    manifest: pane("manifest", "Manifest", "The data this version takes: typed fields by dotted path."),
    layout: pane("layout", "Layout", "What the page looks like: blocks, tables, images, styles."),
    data: pane("data", "Preview data", "The body to preview with (the version's example when empty)."),
  };
  panes.manifest.set(draft.manifest);
  panes.layout.set(draft.layout);
  if (draft.example !== undefined) panes.data.set(draft.example);

  const status = h("div", {class: "out", id: "editor-status"});
  const image = h("img", {id: "preview-image", alt: "Page 1 of the preview", hidden: true});
  const previewOut = h("div", {class: "out", id: "preview-out"},
    h("p", {class: "empty"}, "Save a draft to see page 1 here."));
  const state = {saved: null};  // {number, manifest, layout} of the last draft saved here
  const button = h("button", {type: "button", class: "btn primary", id: "save-preview",
    onclick: () => busy(button, status, () => saveAndPreview())}, "Save draft & preview");

  async function saveAndPreview() {
    for (const p of Object.values(panes)) p.clearIssues();
    const manifest = parseJson(panes.manifest.area.value, "The manifest");
    const layout = parseJson(panes.layout.area.value, "The layout");
    const same = state.saved && JSON.stringify([manifest, layout]) === JSON.stringify([state.saved.manifest, state.saved.layout]);
    if (!same) {
      let version;
      try {
        version = await post(path("templates", slug, "versions"), {manifest, layout});
      } catch (error) {
        if (error instanceof ApiError && error.code === "invalid_template") {
          panes.manifest.set(manifest);
          panes.layout.set(layout);
          showIssues(error, {manifest: panes.manifest, layout: panes.layout}, status);
          return;
        }
        throw error;
      }
      state.saved = {number: version.number, manifest, layout};
      fill(status, notice(`Saved as version ${version.number}, not published.`,
        h("p", null, "Publish it from ", link(["templates", slug], "the template page"),
          " when it is ready.")));
    }
    await preview();
  }

  async function preview() {
    const number = state.saved.number;
    if (!panes.data.area.value.trim()) {
      const schema = await get(path("templates", slug, "versions", number, "schema"));
      panes.data.set(schema.example);
    }
    const data = parseJson(panes.data.area.value, "The preview data");
    fill(previewOut, h("p", {class: "empty"}, `Rendering version ${number}…`));
    try {
      const response = await call("POST", path("templates", slug, "versions", number, "preview"),
        {json: {data}, headers: {Accept: "image/png"}, raw: true});
      const blob = await response.blob();
      if (!context.alive) return;
      if (image.src) URL.revokeObjectURL(image.src);
      image.src = URL.createObjectURL(blob);
      image.hidden = false;
      fill(previewOut, h("p", {class: "muted small"}, `Page 1 of version ${number}, not published.`));
    } catch (error) {
      image.hidden = true;
      if (error instanceof ApiError && error.code === "invalid_input_data") {
        showIssues(error, {"": panes.data}, previewOut);
      } else {
        fill(previewOut, errorBox(error));
      }
    }
  }

  fill(main,
    pageHeader(`New version of ${template.name || template.slug}`,
      "Drafts are versions that are not published: previewing never publishes.",
      h("a", {class: "btn ghost", href: route(["templates", slug])}, "Back to template"), button),
    status,
    h("div", {class: "editor"},
      h("div", {class: "editor-panes"}, panes.manifest.el, panes.layout.el, panes.data.el),
      h("aside", {class: "preview card"}, h("h2", null, "Preview"), previewOut, image)));
  if (draft.error) showIssues(draft.error, {manifest: panes.manifest, layout: panes.layout}, status);
}

/** A JSON text area with its issue list. */
function pane(id, title, hint) {
  const area = h("textarea", {id: `${id}-json`, class: "json", spellcheck: "false", rows: id === "data" ? "10" : "16",
    "aria-label": title});
  const issues = h("ul", {class: "issues", id: `${id}-issues`, hidden: true});
  let lines = new Map();
  const el = h("section", {class: "card pane"},
    h("div", {class: "pane-head"}, h("h2", null, title), h("span", {class: "hint"}, hint)),
    area, issues);
  return {
    el, area,
    set(value) {
      const formatted = formatWithLines(value);
      area.value = formatted.text;
      lines = formatted.lines;
    },
    clearIssues() {
      issues.replaceChildren();
      issues.hidden = true;
      area.classList.remove("invalid");
    },
    addIssue(at, messages, shown = at) {
      const line = lineOf(lines, at);
      issues.hidden = false;
      area.classList.add("invalid");
      issues.append(h("li", {"data-path": shown},
        h("button", {type: "button", class: "path-link", title: "Show in the editor",
          onclick: () => selectLine(area, line)}, h("code", {class: "path"}, shown || "(whole)"),
        h("span", {class: "line"}, `line ${line + 1}`)),
        h("span", {class: "message"}, [messages].flat().map(String).join("; "))));
    },
  };
}

/**
 * Each field issue under the pane its path starts with ("manifest.", "layout.", or "" for the
 * preview data); the message and the rest in `out`.
 */
function showIssues(error, panes, out) {
  const fields = Object.entries(error.issues?.fieldErrors ?? {});
  const count = fields.length === 1 ? "1 problem, shown at its path" : `${fields.length} problems, each shown at its path`;
  fill(out, errorBox(new ApiError(error.status, error.code,
    fields.length ? `${error.message}: ${count} beside the editor.` : error.message,
    {formErrors: error.issues?.formErrors ?? []}, error.requestId)));
  const unplaced = [];
  for (const [at, messages] of fields) {
    const prefix = Object.keys(panes).find((name) => name !== "" && (at === name || at.startsWith(`${name}.`)));
    if (prefix !== undefined) panes[prefix].addIssue(at === prefix ? "" : at.slice(prefix.length + 1), messages, at);
    else if ("" in panes) panes[""].addIssue(at, messages);
    else unplaced.push([at, messages]);
  }
  if (unplaced.length) out.append(errorBox(new ApiError(0, error.code, "Also:", {fieldErrors: Object.fromEntries(unplaced)})));
  const first = out.parentElement?.querySelector(".issues:not([hidden]) li");
  first?.scrollIntoView({block: "center"});
}
