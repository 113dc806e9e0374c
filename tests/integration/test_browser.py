"""The browser fixture itself (tests/browser.py): what it must catch for every browser test."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser import browser, page, page_errors  # noqa: F401  (fixtures)
from tests.integration.conftest import eventually

PROVOKED = ("drawn wrong", "handler broke", "status of 401")


def test_console_errors_uncaught_errors_and_failed_answers_are_caught(page, page_errors):
    page.goto("/healthz")
    page.evaluate("console.error('drawn wrong')")
    page.evaluate("setTimeout(() => { throw new Error('handler broke'); })")
    page.evaluate("fetch('/v1/renders').then(r => r.status)")  # no key: a 401, logged by Chromium

    def caught():
        page.evaluate("0")  # the sync API delivers the page's events during a call
        text = "\n".join(page_errors.unexpected())
        return all(provoked in text for provoked in PROVOKED)

    eventually(caught, timeout=10, what="the three errors reported")
    for pattern in PROVOKED:  # what a test does with errors it provokes on purpose
        page_errors.allow(pattern)
    assert page_errors.unexpected() == []


def test_docs_lists_every_operation_of_the_document(page):
    """/docs in a real browser: Swagger UI, served by the gateway alone, renders each operation
    (and outgoing webhook) of /v1/openapi.json (and the fixture sees no console error, failed asset or CSP refusal)."""
    document = page.request.get("/v1/openapi.json").json()
    described = {**document["paths"], **document.get("webhooks", {})}  # webhooks: by name
    expected = {(method.upper(), path) for path, ops in described.items() for method in ops}
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    shown = page.eval_on_selector_all(
        ".opblock-summary", "blocks => blocks.map(b => ["
        "b.querySelector('.opblock-summary-method').textContent,"
        "b.querySelector('.opblock-summary-path').getAttribute('data-path')])")
    assert {(method, path) for method, path in shown} == expected
    expect(page.locator(".info .title")).to_contain_text(document["info"]["title"])
