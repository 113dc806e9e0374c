// One template: its versions (publish, open in the editor), a version's JSON Schema, example
// body and cURL line, and a render of the published version.
import {get, path, post} from "../api.js";
import {keep} from "../drafts.js";
import {badge, codeBlock, field, h, link, route, table, when, fill} from "../dom.js";
import {busy, errorBox, pageHeader, parseJson, section} from "../ui.js";

export async function render(main, [slug], context) {
  const template = await get(path("templates", slug));
  if (!context.alive) return;
  const versions = [...template.versions].sort((a, b) => b.number - a.number);
  const shown = template.publishedVersion ?? versions[0]?.number;
  const schemaArea = h("div", {id: "schema"});
  const out = h("div", {class: "out"});
  // The shown version's schema, asked for once: the schema section and the render form's
  // example both read it when the shown version is the published one.
  const schema = shown ? versionSchema(slug, shown) : null;
  fill(main,
    pageHeader(template.name || template.slug, `${template.slug} · created ${when(template.createdAt)}`,
      h("a", {class: "btn primary", href: route(["templates", slug, "edit"])}, "New version")),
    out,
    section("Versions", versionTable(template, versions, out, schemaArea, context)),
    template.publishedVersion ? renderForm(slug, template.publishedVersion, schema) : null,
    schemaArea);
  if (shown) await showSchema(schemaArea, slug, shown, context, schema);
}

function versionTable(template, versions, out, schemaArea, context) {
  const rows = versions.map((v) => {
    const publish = h("button", {type: "button", class: "btn small", onclick: async () => {
      const done = await busy(publish, out, () => post(path("templates", template.slug, "versions", v.number, "publish")));
      if (done) location.reload();
    }}, "Publish");
    return h("tr", {"data-version": v.number},
      h("td", null, h("strong", null, `v${v.number}`)),
      h("td", null, badge(v.published ? "published" : "draft")),
      h("td", {class: "nowrap"}, when(v.createdAt)),
      h("td", {class: "row-actions"},
        v.published ? null : publish,
        h("button", {type: "button", class: "btn small ghost", onclick: () => {
          showSchema(schemaArea, template.slug, v.number, context);
          schemaArea.scrollIntoView({behavior: "smooth"});
        }}, "Schema & cURL"),
        h("button", {type: "button", class: "btn small ghost", onclick: () => {
          keep(template.slug, {manifest: v.manifest, layout: v.layout});
          location.hash = route(["templates", template.slug, "edit"]);
        }}, "Edit as new version")));
  });
  return table(["Version", "Status", "Created", ""], rows,
    "No versions yet: add one with New version.");
}

function versionSchema(slug, number) {
  return get(path("templates", slug, "versions", number, "schema"));
}

async function showSchema(area, slug, number, context, loading = versionSchema(slug, number)) {
  fill(area, section(`Version ${number}: request body`, h("p", {class: "empty"}, "Loading…")));
  try {
    const schema = await loading;
    if (!context.alive) return;
    fill(area, section(`Version ${number}: request body`,
      h("p", {class: "subtitle"}, "The JSON Schema of the data this version takes, an example that validates, and a command that renders it."),
      h("div", {class: "split"},
        codeBlock(JSON.stringify(schema.schema, null, 2), "JSON Schema"),
        codeBlock(JSON.stringify(schema.example, null, 2), "Example body")),
      codeBlock(schema.curl, "cURL")));
  } catch (error) {
    fill(area, section(`Version ${number}`, errorBox(error)));
  }
}

/** Renders the published version with data typed here (prefilled with its example, from
 * `schema`: the published version's schema, being fetched). */
function renderForm(slug, number, schema) {
  const data = h("textarea", {id: "render-data", class: "json", rows: "8", spellcheck: "false"});
  schema.then(
    (schema) => { if (!data.value) data.value = JSON.stringify(schema.example, null, 2); },
    () => {});  // the schema section shows the error
  const out = h("div", {class: "out"});
  const button = h("button", {type: "submit", class: "btn primary"}, `Render v${number}`);
  return section("Render", h("form", {onsubmit: async (event) => {
    event.preventDefault();
    await busy(button, out, async () => {
      const body = parseJson(data.value, "The data");
      const made = await post(path("templates", slug, "render"), {data: body});
      location.hash = route(["renders", made.id]);
    });
  }},
  field("Data (JSON)", data, "Validated against the published version's manifest."),
  h("div", {class: "form-actions"}, button), out));
}
