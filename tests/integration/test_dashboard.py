"""The dashboard (/dashboard) in a real browser (Debian's Chromium, driven by Playwright) on the
real stack: sign in, create a template from files, see a lint error at its path, fix it, preview,
publish, render, see the render succeed and download it, add a webhook to a real receiver and see
its delivery, make an API key and a share link, sign out; strangers' strings stay text; a
revoked key returns to sign-in; renders page and cancel. tests/browser.py's page fails a test on
any console error, uncaught error or failed same-origin request, but the API errors a test
provokes on purpose (`expect_api_errors`).

The same steps write the screenshots in docs/dashboard/ (`make screenshots`,
tests/dashboard_screenshots.py): each step calls `shot(name)` where its page is worth a picture.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pypdf
import pytest
from playwright.sync_api import Browser, Page, expect

from craftkit.demo import sample, sample_assets
from services.gateway import dashboard
from tests.browser import PageErrors, browser, page, page_errors, sign_in  # noqa: F401 - fixtures
from tests.integration.conftest import eventually, invoice, new_api

@contextlib.contextmanager
def watched_page(browser: Browser, base_url: str,
                 expected: Iterable[tuple[int, str]] = ()) -> Iterator[Page]:
    """tests/browser.py's `page`, for a gateway other than the session stack's (the `idle` one,
    make screenshots' own): a fresh context whose page fails the caller on any console error,
    uncaught error or failed request of `base_url`, but the API errors `expected` lists."""
    errors = PageErrors(urlsplit(base_url)._replace(path="", query="", fragment="").geturl())
    expect_api_errors(errors, base_url, expected)
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860})
    page = errors.watch(context.new_page())
    try:
        yield page
    finally:
        context.close()
    assert not errors.unexpected(), "the page reported errors:\n" + "\n".join(errors.unexpected())


def expect_api_errors(errors: PageErrors, base_url: str,
                      expected: Iterable[tuple[int, str]]) -> None:
    """Chromium logs every error answer as a console error ("Failed to load resource: ... status
    of 400"); these (status, path) are the API errors a test provokes and the page shows."""
    for status, path in expected:
        errors.allow(rf"status of {status} \(.*\({re.escape(base_url + path)}[?)]")


SPEC = sample("invoice")
TIMEOUT_MS = 30_000
"""How long an expectation waits for the page (a render, a delivery) before it fails."""


def template_folder(directory: Path) -> list[Path]:
    """manifest.json, layout.json (with a block of an unknown type at body.1) and logo.png, as
    a template's author keeps them in a folder."""
    directory.mkdir(parents=True, exist_ok=True)
    layout = json.loads(json.dumps(SPEC["layout"]))
    layout["body"].insert(1, {"type": "paragraf", "text": "a typo in the block's type"})
    files = {"manifest.json": json.dumps(SPEC["manifest"], indent=2),
             "layout.json": json.dumps(layout, indent=2)}
    for name, text in files.items():
        (directory / name).write_text(text)
    for name, content in sample_assets("invoice").items():
        (directory / name).write_bytes(content)
    return sorted(directory.iterdir())


EXPECTED = {(401, "/v1/renders"), (400, "/v1/templates/monthly-invoice/versions")}
"""The API errors the flow provokes: a wrong key at sign-in, the version with a lint error."""


class Flow:
    """The dashboard's main path, one method a step; `shot(name)` is called on each page worth
    a screenshot."""

    def __init__(self, page: Page, base_url: str, key: str, receiver_url: str, files: list[Path],
                 shot: Callable[[str], None] = lambda name: None) -> None:
        self.page, self.base_url, self.key = page, base_url, key
        self.receiver_url, self.files, self.shot = receiver_url, files, shot
        self.slug = "monthly-invoice"
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)

    def sign_in(self) -> None:
        page = self.page
        page.goto(f"{self.base_url}/dashboard")
        expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
        page.fill("#api-key", "ck_live_" + "x" * 40)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("unauthorized")
        assert page.evaluate("sessionStorage.length") == 0  # a refused key is not kept
        self.shot("sign-in")
        page.fill("#api-key", self.key)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("heading", name="Templates", exact=True)).to_be_visible()
        expect(page.locator("tbody tr").first).to_be_visible()  # the project's own templates
        self.shot("templates")

    def create_template_with_a_lint_error(self) -> None:
        page = self.page
        page.fill("#new-slug", self.slug)
        page.fill("#new-name", "Monthly invoice")
        page.set_input_files("#new-files", [str(f) for f in self.files])
        page.get_by_role("button", name="Create template", exact=True).click()
        issue = page.locator("#layout-issues li[data-path='layout.body.1.type']")
        expect(issue).to_be_visible()
        expect(issue).to_contain_text("must be one of")
        expect(page.locator("#editor-status")).to_contain_text("invalid_template")
        issue.get_by_role("button").click()  # selects the block's line in the layout
        selected = page.evaluate(
            "(() => { const a = document.getElementById('layout-json');"
            " return a.value.slice(a.selectionStart, a.selectionEnd); })()")
        assert '"type": "paragraf"' in selected
        self.shot("editor-lint-error")

    def fix_and_preview(self) -> None:
        page = self.page
        page.fill("#layout-json", json.dumps(SPEC["layout"], indent=2))
        page.get_by_role("button", name="Save draft & preview", exact=True).click()
        expect(page.locator("#editor-status")).to_contain_text("Saved as version 1, not published")
        expect(page.locator("#layout-issues")).to_be_hidden()
        image = page.locator("#preview-image")
        expect(image).to_be_visible()
        page.wait_for_function(
            "document.getElementById('preview-image').naturalWidth > 1000")
        data = json.loads(page.input_value("#data-json"))  # the version's example, previewed
        assert data["customer"]["name"] == SPEC["example"]["customer"]["name"]
        self.shot("editor")

    def publish(self) -> None:
        page = self.page
        page.get_by_role("link", name="the template page", exact=True).click()
        row = page.locator("tr[data-version='1']")
        expect(row).to_contain_text("draft")  # the preview published nothing
        expect(page.locator("#schema")).to_contain_text("curl")
        row.get_by_role("button", name="Publish", exact=True).click()
        expect(page.locator("tr[data-version='1']")).to_contain_text("published")
        expect(page.locator("#schema")).to_contain_text("JSON Schema")
        expect(page.locator("#render-data")).not_to_have_value("")
        self.shot("template")

    def add_webhook(self) -> None:
        page = self.page
        page.get_by_role("link", name="Webhooks", exact=True).click()
        page.fill("#webhook-url", f"{self.receiver_url}/dashboard")
        page.get_by_role("button", name="Add endpoint", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("shown only once")
        expect(page.locator("#webhooks-list")).to_contain_text(f"{self.receiver_url}/dashboard")
        self.shot("webhooks")

    def render_and_download(self, downloads: Path) -> Path:
        page = self.page
        page.get_by_role("link", name="Templates", exact=True).click()
        page.get_by_role("link", name=self.slug, exact=True).click()
        expect(page.locator("#render-data")).not_to_have_value("")
        page.get_by_role("button", name="Render v1", exact=True).click()
        expect(page.locator(".facts")).to_contain_text("succeeded")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download", exact=True).click()
        saved = downloads / download.value.suggested_filename
        download.value.save_as(saved)
        page.fill("#link-max", "3")
        page.get_by_role("button", name="Create link", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("shown only once")
        link = page.locator("#share-links tbody tr")
        expect(link).to_have_count(1)
        expect(link).to_contain_text("0 of 3")
        self.shot("render")
        link.get_by_role("button", name="Revoke", exact=True).click()
        link.get_by_role("button", name="Confirm revoke", exact=True).click()
        expect(link).to_contain_text("revoked")
        return saved

    def see_renders(self) -> None:
        page = self.page
        page.get_by_role("link", name="Renders", exact=True).click()
        expect(page.locator("#renders-list")).to_contain_text(self.slug)
        expect(page.locator("#renders-list")).to_contain_text("succeeded")
        self.shot("renders")
        page.select_option("#filter-status", "failed")
        page.get_by_role("button", name="Apply", exact=True).click()
        expect(page.locator("#renders-list")).to_contain_text("No renders match")
        page.select_option("#filter-status", "succeeded")
        page.fill("#filter-template", self.slug)
        page.get_by_role("button", name="Apply", exact=True).click()
        expect(page.locator("#renders-list tbody tr")).to_have_count(1)
        expect(page.locator("#renders-list")).to_contain_text(self.slug)

    def see_delivery(self) -> None:
        page = self.page
        page.get_by_role("link", name="Webhooks", exact=True).click()
        page.get_by_role("link", name="Deliveries", exact=True).click()
        row = page.locator("#deliveries tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("delivered")  # the log refreshes itself
        expect(row).to_contain_text("HTTP 200")
        self.shot("deliveries")
        row.get_by_role("button", name="Redeliver", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Redelivery queued")

    def make_a_key(self) -> None:
        page = self.page
        page.get_by_role("link", name="API keys", exact=True).click()
        page.fill("#key-name", "partner")
        page.select_option("#key-scope", "download")
        page.get_by_role("button", name="Create key", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("shown only this once")
        expect(page.locator("#keys-list tbody tr")).to_have_count(2)
        self.shot("keys")
        partner = page.locator("#keys-list tbody tr", has_text="partner")
        partner.get_by_role("button", name="Revoke", exact=True).click()
        partner.get_by_role("button", name="Confirm revoke", exact=True).click()
        expect(partner).to_contain_text("revoked")

    def sign_out(self) -> None:
        page = self.page
        page.get_by_role("button", name="Sign out", exact=True).click()
        expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
        assert page.evaluate("sessionStorage.length") == 0


def test_the_dashboard_takes_a_template_from_files_to_a_delivered_render(
        stack, api, receiver, tmp_path, page, page_errors):
    expect_api_errors(page_errors, stack.base_url, EXPECTED)
    files = template_folder(tmp_path / "invoice")
    flow = Flow(page, stack.base_url, api.key, receiver.base, files)
    flow.sign_in()
    flow.create_template_with_a_lint_error()
    flow.fix_and_preview()
    published = api.http.get("/v1/templates/monthly-invoice").json()
    assert published["publishedVersion"] is None  # saving and previewing published nothing
    flow.publish()
    flow.add_webhook()
    saved = flow.render_and_download(tmp_path)
    [render] = api.http.get("/v1/renders").json()["data"]
    assert render["status"] == "succeeded"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(saved).pages)
    assert SPEC["example"]["customer"]["name"] in text
    flow.see_renders()
    flow.see_delivery()
    eventually(lambda: len(receiver.at("/dashboard")) >= 2, what="the delivery and its redelivery")
    event = json.loads(receiver.at("/dashboard")[0].body)
    assert (event["renderId"], event["event"]) == (render["id"], "render.succeeded")
    flow.make_a_key()
    flow.sign_out()


def test_every_dashboard_file_forbids_inline_script_framing_and_referrers(stack):
    for path in ("/dashboard/", "/dashboard/js/app.js", "/dashboard/style.css"):
        answer = httpx.get(f"{stack.base_url}{path}")
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy and answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
    assert httpx.get(f"{stack.base_url}/dashboard").headers["location"] == "/dashboard/"
    missing = httpx.get(f"{stack.base_url}/dashboard/nothing.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("method", "path"), [("GET", "/dashboard"), ("GET", "/dashboard/nothing.js"),
                                              ("GET", "/dashboard/js/"), ("POST", "/dashboard/")])
def test_every_dashboard_answer_carries_the_policy_its_errors_too(stack, method, path):
    answer = httpx.request(method, f"{stack.base_url}{path}")
    assert answer.status_code in (308, 404, 405), (path, answer.status_code)
    assert answer.headers.get("content-security-policy") == \
        dashboard.SECURITY_HEADERS["content-security-policy"], (method, path)
    assert answer.headers.get("x-frame-options") == "DENY", (method, path)


@pytest.mark.parametrize("path", ["/dashboard/../services/gateway/app.py",
                                  "/dashboard/%2e%2e/__init__.py", "/dashboard/__init__.py"])
def test_the_dashboard_serves_only_its_static_files(stack, path):
    answer = httpx.get(f"{stack.base_url}{path}")
    assert answer.status_code == 404 and b"import" not in answer.content


def test_a_template_from_one_sample_file_and_a_file_that_is_not_json(stack, api, page, tmp_path):
    sample_file = tmp_path / "certificate.json"
    sample_file.write_text(json.dumps(sample("certificate")))
    broken = tmp_path / "broken.json"
    broken.write_text('{"manifest": {"fields": {}}, "layout": ')
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{stack.base_url}/dashboard/")
    page.fill("#api-key", api.key)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.fill("#new-slug", "award")
    page.set_input_files("#new-files", str(broken))
    page.get_by_role("button", name="Create template", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("broken.json is not valid JSON")
    assert api.http.get("/v1/templates/award").status_code == 404  # nothing was made
    page.set_input_files("#new-files", str(sample_file))
    page.get_by_role("button", name="Create template", exact=True).click()
    expect(page.locator("tr[data-version='1']")).to_contain_text("draft")
    assert api.http.get("/v1/templates/award").json()["versions"][0]["layout"] == \
        sample("certificate")["layout"]


HOSTILE = "<img src=x onerror=\"document.title='pwned'\"><b>bold</b>"


def test_strangers_strings_show_as_text_and_a_revoked_key_returns_to_sign_in(
        stack, api, page, page_errors):
    expect_api_errors(page_errors, stack.base_url, {(401, "/v1/renders")})
    assert api.http.post("/v1/templates", json={"slug": "hostile", "name": HOSTILE}).status_code == 201
    made = api.http.post("/v1/keys", json={"name": HOSTILE, "scopes": ["full"]}).json()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{stack.base_url}/dashboard/")
    page.fill("#api-key", made["key"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("cell", name=HOSTILE, exact=True)).to_be_visible()
    page.get_by_role("link", name="API keys", exact=True).click()
    # the keys list's own cell (the templates list showed the same name as a template's)
    expect(page.locator("#keys-list").get_by_role("cell", name=HOSTILE, exact=True)).to_be_visible()
    assert page.locator("img[src='x'], b").count() == 0 and page.title() != "pwned"
    assert api.http.delete(f"/v1/keys/{made['id']}").status_code == 200
    page.get_by_role("link", name="Renders", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Signed out")
    assert page.evaluate("sessionStorage.length") == 0


def test_renders_page_a_time_and_a_queued_one_is_cancelled(idle, browser):
    """On a stack with no render worker, renders stay queued until cancelled."""
    queued = new_api(idle)
    try:
        ids = [queued.render(invoice()).json()["id"] for _ in range(21)]
        with watched_page(browser, idle.base_url) as page:
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{idle.base_url}/dashboard/")
            page.fill("#api-key", queued.key)
            page.get_by_role("button", name="Sign in", exact=True).click()
            page.get_by_role("link", name="Renders", exact=True).click()
            rows = page.locator("#renders-list tbody tr")
            expect(rows).to_have_count(20)
            page.get_by_role("button", name="Next page", exact=True).click()
            expect(rows).to_have_count(1)  # the oldest, on the second page
            oldest = page.locator(f"tr[data-render='{ids[0]}']")
            expect(oldest).to_contain_text("queued")
            oldest.get_by_role("button", name="Cancel", exact=True).click()
            oldest.get_by_role("button", name="Confirm cancel", exact=True).click()
            expect(oldest).to_contain_text("cancelled")
            page.get_by_role("button", name="Previous page", exact=True).click()
            expect(rows).to_have_count(20)
        assert queued.http.get(f"/v1/renders/{ids[0]}").json()["status"] == "cancelled"
        assert queued.http.get(f"/v1/renders/{ids[1]}").json()["status"] == "queued"
    finally:
        queued.close()


def test_a_template_folder_with_its_own_font(stack, api, page, tmp_path):
    """A folder as `craftkit templates pull` writes it: its .ttf is uploaded with the images."""
    spec = sample("certificate")
    layout = json.loads(json.dumps(spec["layout"]))
    layout["fonts"] = {"Brand": {"regular": "brand.ttf"}}
    layout["body"][0]["font"] = "Brand"
    folder = tmp_path / "branded"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(spec["manifest"]))
    (folder / "layout.json").write_text(json.dumps(layout))
    (folder / "brand.ttf").write_bytes(
        (Path(__file__).parents[2] / "craftkit/fonts/DejaVuSans.ttf").read_bytes())
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{stack.base_url}/dashboard/")
    page.fill("#api-key", api.key)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.fill("#new-slug", "branded")
    page.set_input_files("#new-files", sorted(str(f) for f in folder.iterdir()))
    page.get_by_role("button", name="Create template", exact=True).click()
    expect(page.locator("tr[data-version='1']")).to_contain_text("draft")
    assets = api.http.get("/v1/templates/branded/assets").json()["assets"]
    assert [a["name"] for a in assets] == ["brand.ttf"]


def test_a_create_that_failed_halfway_is_finished_by_trying_again(
        stack, api, page, page_errors, tmp_path):
    """The template is made before its images: one refused, the user fixes the file and presses
    Create again, which goes on with the template made the first time (no 409 template_exists,
    no template left without a version)."""
    expect_api_errors(page_errors, stack.base_url, {(400, "/v1/templates/award2/assets/seal.png")})
    whole = tmp_path / "award.json"
    whole.write_text(json.dumps(sample("certificate")))
    seal = tmp_path / "seal.png"
    seal.write_bytes(b"not a PNG at all")
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{stack.base_url}/dashboard/")
    page.fill("#api-key", api.key)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.fill("#new-slug", "award2")
    page.set_input_files("#new-files", [str(whole), str(seal)])
    page.get_by_role("button", name="Create template", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("invalid_asset")
    seal.write_bytes(sample_assets("invoice")["logo.png"])
    page.set_input_files("#new-files", [str(whole), str(seal)])
    page.get_by_role("button", name="Create template", exact=True).click()
    expect(page.locator("tr[data-version='1']")).to_contain_text("draft")
    assert [a["name"] for a in api.http.get("/v1/templates/award2/assets").json()["assets"]] \
        == ["seal.png"]


COUNT_FETCHES = """
window.__fetches = {started: 0, settled: 0, deliveries: 0};
const realFetch = window.fetch;
window.fetch = (url, ...rest) => {
  window.__fetches.started += 1;
  if (String(url).includes('/deliveries')) window.__fetches.deliveries += 1;
  return realFetch(url, ...rest).finally(() => { window.__fetches.settled += 1; });
};
"""


def test_a_delivery_log_refreshes_once_every_two_seconds_after_redelivers(
        stack, api, receiver, page):
    """Each Redeliver reloads the log; it must not start one more refresh loop each time."""
    hook = api.http.post("/v1/webhooks", json={"url": f"{receiver.base}/loops",
                                               "events": ["render.succeeded"]}).json()
    api.wait(api.render(invoice()).json()["id"])
    eventually(lambda: receiver.at("/loops"), what="the delivery")
    page.context.add_init_script(COUNT_FETCHES)
    sign_in(page, api.key)
    page.clock.install()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{stack.base_url}/dashboard/#/webhooks/{hook['id']}")
    row = page.locator("#deliveries tbody tr")
    expect(row).to_have_count(1)
    for _ in range(3):
        row.get_by_role("button", name="Redeliver", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Redelivery queued")
        page.wait_for_function("() => window.__fetches.started === window.__fetches.settled")
    before = page.evaluate("window.__fetches.deliveries")
    page.clock.run_for(2000)
    assert page.evaluate("window.__fetches.deliveries") - before == 1


LONG = "W" * 200
"""A name as long as the API takes, with nowhere to break a line."""


@pytest.mark.parametrize("where", ["templates", "templates/long", "templates/long/edit",
                                   "webhooks", "webhook", "keys"])
def test_very_long_strings_wrap_inside_the_page(stack, api, receiver, page, where):
    """Names, URLs and messages of the maximum length stay inside the window (no sideways
    scrolling of the whole page)."""
    assert api.http.post("/v1/templates", json={"slug": "long", "name": LONG}).status_code == 201
    hook = api.http.post("/v1/webhooks", json={"url": f"{receiver.base}/{'u' * 1900}",
                                               "events": ["render.succeeded"]}).json()
    assert api.http.post("/v1/keys", json={"name": LONG, "scopes": ["full"]}).status_code == 201
    sign_in(page, api.key)
    page.set_viewport_size({"width": 1280, "height": 860})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{stack.base_url}/dashboard/#/{where if where != 'webhook' else 'webhooks/' + hook['id']}")
    expect(page.locator("main h1")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Loading")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"


def test_a_key_revoked_before_the_next_page_returns_to_sign_in(stack, api, page, page_errors):
    """An error while turning a list's page is shown (here: the sign-in page saying why), never
    an uncaught error."""
    expect_api_errors(page_errors, stack.base_url, {(401, "/v1/templates")})
    mine = len(api.http.get("/v1/templates", params={"limit": 100}).json()["templates"])
    for i in range(51 - mine):
        assert api.http.post("/v1/templates", json={"slug": f"many-{i}"}).status_code == 201
    made = api.http.post("/v1/keys", json={"name": "browser", "scopes": ["full"]}).json()
    sign_in(page, made["key"])
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{stack.base_url}/dashboard/#/templates")
    expect(page.locator("tbody tr")).to_have_count(50)
    assert api.http.delete(f"/v1/keys/{made['id']}").status_code == 200
    page.get_by_role("button", name="Next page", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Signed out")
