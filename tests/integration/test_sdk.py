"""The Python SDK (clients/python, craftkit_client) against the real stack, each test once with
the sync Client and once with the AsyncClient. A test body awaits `maybe(...)` around every call,
so the same lines drive both clients (the sync one simply blocks the test's loop)."""

from __future__ import annotations

import inspect
import io
import time
import uuid
from pathlib import Path

import pypdf
import pytest

from craftkit import demo
from craftkit_client import (ApiError, AsyncClient, AuthError, Client, Conflict, NotFound,
                             RenderFailed, ValidationError, WaitTimeout, verify_webhook)
from services.webhooks import signing
from tests.integration.conftest import eventually, invoice, unrenderable_invoice


async def maybe(value):
    """The value of a sync call, or the awaited result of an async one."""
    return await value if inspect.isawaitable(value) else value


async def collect(iterator) -> list:
    if hasattr(iterator, "__aiter__"):
        return [item async for item in iterator]
    return list(iterator)


def client_for(kind: str, stack, key: str) -> Client | AsyncClient:
    return (Client if kind == "sync" else AsyncClient)(base_url=stack.base_url, api_key=key)


@pytest.fixture(params=["sync", "async"])
async def sdk(request, stack, api):
    client = client_for(request.param, stack, api.key)
    yield client
    await maybe(client.close())


def slug() -> str:
    return f"sdk-{uuid.uuid4().hex[:8]}"


SLOW_SPEC = {"manifest": {"fields": {"texts": {"type": "array"},
                                     "texts[].text": {"type": "string"}}},
             "layout": {"body": [{"type": "each", "source": "texts", "as": "t", "blocks": [
                 {"type": "qr", "value": "{{t.text}}", "size": 72}]}]}}
SLOW_DATA = {"texts": [{"text": f"{i:04d}" + "x" * 2000} for i in range(2)]}
"""Two QR codes of 2,000 characters: ReportLab takes about 1.5 s for each, seconds in all."""


async def test_templates_versions_assets_schema_and_preview(sdk):
    sample, name = demo.sample("letter"), slug()
    created = await maybe(sdk.templates.create(name, name="Letter", default_filename="l.pdf"))
    assert (created.slug, created.name, created.default_filename) == (name, "Letter", "l.pdf")
    assert created.published_version is None

    logo = demo.sample_assets("letter")["logo.png"]
    asset = await maybe(sdk.templates.put_asset(name, "logo.png", logo, "image/png"))
    assert (asset.name, asset.content_type, asset.size) == ("logo.png", "image/png", len(logo))
    assert [a.name for a in await maybe(sdk.templates.list_assets(name))] == ["logo.png"]

    version = await maybe(sdk.templates.add_version(name, sample["manifest"], sample["layout"]))
    assert (version.number, version.published) == (1, False)
    assert version.manifest == sample["manifest"]

    pdf = await maybe(sdk.templates.preview(name, 1, sample["example"]))
    assert pdf.startswith(b"%PDF") and len(pypdf.PdfReader(io.BytesIO(pdf)).pages) >= 1

    published = await maybe(sdk.templates.publish(name, 1))
    assert (published.number, published.published) == (1, True)
    assert published.published_at is not None
    template = await maybe(sdk.templates.get(name))
    assert template.published_version == 1 and [v.number for v in template.versions] == [1]

    schema = await maybe(sdk.templates.schema(name, 1))
    assert schema.number == 1 and schema.schema["type"] == "object"
    assert f"/v1/templates/{name}/render" in schema.curl

    first = await maybe(sdk.templates.list(limit=1))
    assert len(first.data) == 1 and first.next_cursor
    seen, cursor = [], None
    while True:
        page = await maybe(sdk.templates.list(limit=3, cursor=cursor))
        seen += [t.slug for t in page.data]
        if not (cursor := page.next_cursor):
            break
    assert name in seen and seen == sorted(seen) and not any(t.versions for t in first.data)


async def test_render_waits_downloads_lists_shares_and_cancel_is_refused(sdk, tmp_path):
    polled = []
    render = await maybe(sdk.render("invoice", invoice(), filename="sdk-invoice",
                                    on_poll=polled.append))
    assert render.status == "succeeded" and render.completed_at >= render.created_at
    assert polled and polled[-1] == render and all(r.id == render.id for r in polled)

    path = tmp_path / "out" / "invoice.pdf"
    path.parent.mkdir()
    written = await maybe(sdk.renders.download(render.id, path))
    assert written == path.stat().st_size and path.read_bytes().startswith(b"%PDF")
    assert [p.name for p in path.parent.iterdir()] == ["invoice.pdf"]  # no temporary file left
    buffer = io.BytesIO()
    assert await maybe(sdk.renders.download(render.id, buffer)) == written
    assert buffer.getvalue() == path.read_bytes()

    got = await maybe(sdk.renders.get(render.id))
    assert (got.id, got.status, got.template_slug) == (render.id, "succeeded", "invoice")
    page = await maybe(sdk.renders.list(template="invoice", status="succeeded", limit=1))
    assert [r.id for r in page.data] == [render.id] and page.next_cursor is None
    assert render.id in [r.id for r in await collect(sdk.renders.iter(limit=1))]

    link = await maybe(sdk.share_links.create(render.id, expires_in=600, max_downloads=2))
    assert link.url and link.max_downloads == 2 and link.downloads == 0
    assert [x.id for x in await maybe(sdk.share_links.list(render.id))] == [link.id]
    revoked = await maybe(sdk.share_links.revoke(render.id, link.id))
    assert revoked.revoked_at is not None and revoked.url is None

    with pytest.raises(Conflict) as refused:
        await maybe(sdk.renders.cancel(render.id))
    assert refused.value.code == "not_cancellable" and "succeeded" in refused.value.message


async def test_sync_mode_answers_the_finished_render_without_polling(sdk):
    polled = []
    render = await maybe(sdk.render("invoice", invoice(), sync=True, on_poll=polled.append))
    assert render.status == "succeeded" and render.completed_at is not None
    assert polled == []  # the server held the request until the render was done


async def test_a_failed_render_raises_render_failed_carrying_it(sdk):
    with pytest.raises(RenderFailed) as failed:
        await maybe(sdk.render("invoice", unrenderable_invoice(), timeout=120))
    render = failed.value.render
    assert render.status == "failed" and render.error_message
    assert render.id in str(failed.value) and render.error_message in str(failed.value)
    assert (await maybe(sdk.renders.get(render.id))).status == "failed"


async def test_the_wait_deadline_raises_a_timeout_carrying_the_render_which_goes_on(sdk):
    name = slug()
    await maybe(sdk.templates.create(name))
    await maybe(sdk.templates.add_version(name, SLOW_SPEC["manifest"], SLOW_SPEC["layout"]))
    await maybe(sdk.templates.publish(name, 1))

    with pytest.raises(WaitTimeout) as timed_out:
        await maybe(sdk.render(name, SLOW_DATA, timeout=0.3))
    assert isinstance(timed_out.value, TimeoutError)
    late = timed_out.value.render
    assert late.status in ("queued", "rendering") and late.template_slug == name
    assert (await maybe(sdk.renders.wait(late.id, timeout=120))).status == "succeeded"


async def test_webhooks_deliver_verifiably_and_rotate(sdk, receiver, api):
    hook = await maybe(sdk.webhooks.create(f"{receiver.base}/sdk"))
    assert hook.secret and set(hook.events) == {"render.succeeded", "render.failed"}
    assert hook.secret not in repr(hook)
    assert hook.id in [w.id for w in (await maybe(sdk.webhooks.list())).data]
    paused = await maybe(sdk.webhooks.update(hook.id, enabled=False))
    assert paused.enabled is False and paused.secret is None
    assert (await maybe(sdk.webhooks.update(hook.id, enabled=True))).enabled is True

    render = await maybe(sdk.render("invoice", invoice()))
    delivered = eventually(lambda: receiver.at("/sdk"), what="the webhook delivery")[0]
    event = verify_webhook(hook.secret, delivered.body, delivered.headers)
    assert (event["event"], event["renderId"]) == ("render.succeeded", render.id)

    deliveries = eventually(lambda: api.http.get(f"/v1/webhooks/{hook.id}/deliveries").json()
                            ["deliveries"], what="the delivery recorded")
    page = await maybe(sdk.webhooks.deliveries(hook.id, limit=5))
    assert [d.id for d in page.data] == [d["id"] for d in deliveries]
    assert page.data[0].render_id == render.id
    again = await maybe(sdk.webhooks.redeliver(hook.id, page.data[0].id))
    assert again.id == page.data[0].id
    eventually(lambda: len(receiver.at("/sdk")) >= 2, what="the redelivery")

    rotated = await maybe(sdk.webhooks.rotate_secret(hook.id, overlap_seconds=60))
    assert rotated.secret and rotated.secret != hook.secret
    deleted = await maybe(sdk.webhooks.delete(hook.id))
    assert deleted.id == hook.id
    assert hook.id not in [w.id for w in (await maybe(sdk.webhooks.list())).data]


async def test_keys_are_made_scoped_listed_and_revoked(sdk, stack):
    made = await maybe(sdk.keys.create("partner", ["download"]))
    assert made.key and made.scopes == ("download",) and made.revoked_at is None
    assert made.id in [k.id for k in (await maybe(sdk.keys.list())).data]

    partner = client_for("sync" if isinstance(sdk, Client) else "async", stack, made.key)
    try:
        assert isinstance((await maybe(partner.renders.list(limit=1))).data, list)
        with pytest.raises(AuthError) as refused:
            await maybe(partner.templates.list())
        assert (refused.value.status, refused.value.code) == (403, "insufficient_scope")
    finally:
        await maybe(partner.close())

    revoked = await maybe(sdk.keys.revoke(made.id))
    assert revoked.id == made.id and revoked.revoked_at is not None and revoked.key is None


async def test_an_idempotency_key_replays_the_first_answer(sdk):
    key, name = str(uuid.uuid4()), slug()
    first = await maybe(sdk.templates.create(name, idempotency_key=key))
    again = await maybe(sdk.templates.create(name, idempotency_key=key))
    assert again == first  # not 409 template_exists: the first answer, replayed

    key, data = str(uuid.uuid4()), invoice()
    render = await maybe(sdk.renders.create("invoice", data, idempotency_key=key))
    assert (await maybe(sdk.renders.create("invoice", data, idempotency_key=key))).id == render.id
    with pytest.raises(ValidationError) as reused:  # the same key with another body
        await maybe(sdk.renders.create("invoice", invoice(), idempotency_key=key))
    assert (reused.value.status, reused.value.code) == (422, "idempotency_key_reused")


async def test_errors_are_typed_with_code_message_and_issues(sdk, stack):
    with pytest.raises(NotFound) as missing:
        await maybe(sdk.renders.get(str(uuid.uuid4())))
    assert (missing.value.status, missing.value.code) == (404, "not_found")

    bad = invoice()
    bad["items"][0]["qty"] = "five"
    with pytest.raises(ValidationError) as invalid:
        await maybe(sdk.render("invoice", bad))
    assert invalid.value.code == "invalid_input_data"
    assert list(invalid.value.field_errors) == ["items.0.qty"]
    assert str(invalid.value).startswith("400 invalid_input_data: ")
    assert "items.0.qty: " in str(invalid.value)

    with pytest.raises(NotFound) as no_template:
        await maybe(sdk.render(slug(), {}))
    assert no_template.value.code == "template_not_found"
    with pytest.raises(Conflict) as taken:
        await maybe(sdk.templates.create("invoice"))
    assert taken.value.code == "template_exists"

    stranger = client_for("sync" if isinstance(sdk, Client) else "async", stack,
                          "ck_live_" + "x" * 40)
    try:
        with pytest.raises(AuthError) as unknown:
            await maybe(stranger.renders.list())
        assert (unknown.value.status, unknown.value.code) == (401, "unauthorized")
        assert isinstance(unknown.value, ApiError)
    finally:
        await maybe(stranger.close())


def test_the_client_reads_dev_env_when_no_url_or_key_is_given(stack, api, tmp_path,
                                                              monkeypatch):
    """What `make run` writes (shell-quoted KEY=value lines) is enough to connect."""
    monkeypatch.delenv("CRAFTKIT_API_URL", raising=False)
    monkeypatch.delenv("CRAFTKIT_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".craftkit").mkdir()
    (tmp_path / ".craftkit" / "dev.env").write_text(
        f"CRAFTKIT_API_URL='{stack.base_url}'\nCRAFTKIT_API_KEY={api.key}\nOTHER=x\n")
    with Client() as client:
        assert client.base_url == stack.base_url
        assert isinstance(client.templates.list().data, list)


def readme_examples() -> list[str]:
    """The Python blocks of the README's "Python SDK" section, in order."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("\n## Python SDK\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n```", 1)[0] for block in section.split("```python\n")[1:]]


def test_the_readmes_python_examples_run_as_written(stack, api, tmp_path, monkeypatch):
    render_example, receiver_example = readme_examples()
    monkeypatch.delenv("CRAFTKIT_API_URL", raising=False)
    monkeypatch.delenv("CRAFTKIT_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".craftkit").mkdir()
    (tmp_path / ".craftkit" / "dev.env").write_text(
        f"CRAFTKIT_API_URL={stack.base_url}\nCRAFTKIT_API_KEY={api.key}\n")
    scope: dict = {}
    exec(compile(render_example, "README.md", "exec"), scope)
    assert (tmp_path / "invoice.pdf").read_bytes().startswith(b"%PDF")
    assert scope["job"].terminal and scope["render"].status == "succeeded"

    monkeypatch.setenv("WEBHOOK_SECRET", "whsec_readme")
    exec(compile(receiver_example, "README.md", "exec"), scope)
    body = signing.payload({"event": "render.succeeded", "renderId": scope["render"].id})
    headers = signing.headers(event="render.succeeded", delivery_id="d", body=body,
                              timestamp=int(time.time()), secret="whsec_readme")
    assert scope["receive"](body, headers) == 200
    assert scope["receive"](body + b" ", headers) == 400
