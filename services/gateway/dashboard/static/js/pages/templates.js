// Templates: the list, and a new template from a file (a {manifest, layout} JSON file, or a
// folder's manifest.json, layout.json and images).
import {ApiError, call, get, path, post} from "../api.js";
import {keep} from "../drafts.js";
import {field, h, link, route, table, when, fill} from "../dom.js";
import {busy, pageHeader, parseJson, section, nextPageButton} from "../ui.js";

export async function render(main, _params, context) {
  const list = h("div", null, h("p", {class: "empty"}, "Loading…"));
  fill(main, pageHeader("Templates", "Each template is a manifest (its data) and a layout, in numbered versions."),
    createForm(), section("Your templates", list));
  await showPage(list, null, context);
}

async function showPage(list, cursor, context) {
  const page = await get("/v1/templates", {limit: 50, cursor});
  if (!context.alive) return;
  const rows = page.templates.map((t) => h("tr", null,
    h("td", null, link(["templates", t.slug], h("strong", null, t.slug))),
    h("td", null, t.name ? h("span", {class: "clip", title: t.name}, t.name) : "—"),
    h("td", null, t.publishedVersion ? `v${t.publishedVersion}` : h("span", {class: "muted"}, "none yet")),
    h("td", {class: "nowrap"}, when(t.createdAt))));
  fill(list, table(["Slug", "Name", "Published", "Created"], rows,
    "No templates yet: create one above from a file."),
  nextPageButton(page, list, context, (cursor) => showPage(list, cursor, context)));
}

function createForm() {
  const slug = h("input", {name: "slug", id: "new-slug", required: true, maxlength: "63",
    placeholder: "invoice", autocomplete: "off"});
  const name = h("input", {name: "name", id: "new-name", maxlength: "200", placeholder: "Invoice"});
  const files = h("input", {type: "file", id: "new-files", multiple: true,
    accept: ".json,application/json,image/png,image/jpeg,.ttf,.otf"});
  const folder = h("input", {type: "file", id: "new-folder", webkitdirectory: true});
  const out = h("div", {class: "out"});
  const button = h("button", {type: "submit", class: "btn primary"}, "Create template");
  const made = new Set();  // slugs this form created: pressing Create again goes on with them
  const form = h("form", {class: "grid-form", onsubmit: async (event) => {
    event.preventDefault();
    await busy(button, out, async () => {
      const chosen = [...files.files, ...folder.files];
      const content = await readTemplateFiles(chosen);
      const chosenSlug = slug.value.trim();
      if (!made.has(chosenSlug)) {
        await post("/v1/templates", {slug: chosenSlug, ...(name.value.trim() ? {name: name.value.trim()} : {})});
        made.add(chosenSlug);  // an image refused below leaves it made, without a version
      }
      await create(chosenSlug, content);
    });
  }},
  field("Slug", slug, "Names the template in URLs and API calls."),
  field("Name", name, "Optional."),
  field("Version from a file", files, "A JSON file with \"manifest\" and \"layout\", or manifest.json + layout.json (+ images and fonts)."),
  field("…or a folder", folder, "A folder holding manifest.json, layout.json and its images and fonts."),
  h("div", {class: "form-actions"}, button),
  out);
  return section("New template", form);
}

/** Asset files by suffix, as `craftkit templates push` uploads them (the server tells their kind
 * from their bytes). */
const ASSET_TYPES = {png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", ttf: "font/ttf",
  otf: "font/otf"};
const suffix = (file) => /\.([a-z]+)$/i.exec(file.name)?.[1].toLowerCase();

/**
 * {manifest, layout, example?, images: [File]} (images and fonts) from the chosen files, or null when none were
 * chosen. A file that is not JSON is refused here, naming it.
 */
async function readTemplateFiles(chosen) {
  if (!chosen.length) return null;
  const byName = new Map(chosen.map((file) => [file.name, file]));
  const images = chosen.filter((file) => suffix(file) in ASSET_TYPES);
  if (byName.has("manifest.json") || byName.has("layout.json")) {
    if (!byName.has("manifest.json") || !byName.has("layout.json")) {
      throw new ApiError(0, "invalid_files", "Choose both manifest.json and layout.json (one of them is missing).");
    }
    return {manifest: await readJson(byName.get("manifest.json")),
      layout: await readJson(byName.get("layout.json")), images};
  }
  const jsonFiles = chosen.filter((file) => /\.json$/i.test(file.name));
  if (jsonFiles.length !== 1) {
    throw new ApiError(0, "invalid_files",
      "Choose one JSON file holding \"manifest\" and \"layout\", or manifest.json and layout.json.");
  }
  const whole = await readJson(jsonFiles[0]);
  if (!whole || typeof whole !== "object" || !("manifest" in whole) || !("layout" in whole)) {
    throw new ApiError(0, "invalid_files", `${jsonFiles[0].name} has no "manifest" and "layout" at its top level.`);
  }
  return {manifest: whole.manifest, layout: whole.layout, example: whole.example, images};
}

async function readJson(file) {
  return parseJson(await file.text(), file.name);
}

/** The new template's images and first version; a refused version opens in the editor. */
async function create(slug, content) {
  if (!content) {
    location.hash = route(["templates", slug, "edit"]);
    return;
  }
  for (const image of content.images) {
    await call("PUT", path("templates", slug, "assets", image.name),
      {body: image, headers: {"Content-Type": image.type || ASSET_TYPES[suffix(image)]}});
  }
  try {
    await post(path("templates", slug, "versions"), {manifest: content.manifest, layout: content.layout});
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "invalid_template") throw error;
    keep(slug, {manifest: content.manifest, layout: content.layout, example: content.example, error});
    location.hash = route(["templates", slug, "edit"]);
    return;
  }
  location.hash = route(["templates", slug]);
}

