"""`make screenshots`: docs/dashboard/PAGE.png for each page of the dashboard, taken by the same
browser steps as its end-to-end test (tests/integration/test_dashboard.py) on a stack of its own,
with a few renders of the demo project's sample templates so the lists are not empty. Look at
every picture before committing them."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from craftkit.demo import sample
from tests.integration import receiver as receivers
from tests.integration.conftest import new_api, start_stack
from tests.browser import launch
from tests.integration.test_dashboard import EXPECTED, Flow, template_folder, watched_page

OUT = Path(__file__).resolve().parent.parent / "docs" / "dashboard"
COLOURS = 128
"""Screenshots are reduced to this many colours: a few dozen KB each instead of a few hundred."""
SAMPLES = ("letter", "receipt", "certificate")


def save(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar at the top of the picture
    time.sleep(0.3)  # let the scroll and a focus ring settle: a picture, not a test
    path = OUT / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    image = Image.open(path).convert("RGB").quantize(colors=COLOURS, dither=Image.Dither.NONE)
    image.save(path, optimize=True)
    print(f"wrote {path.relative_to(OUT.parent.parent)}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        stack = start_stack(Path(workdir) / "stack")
        receiver = receivers.start()
        try:
            api = new_api(stack)
            for slug in SAMPLES:
                api.render(sample(slug)["example"], slug=slug, sync=True)
            files = template_folder(Path(workdir) / "invoice")
            with sync_playwright() as playwright:
                browser = launch(playwright)
                try:
                    with watched_page(browser, stack.base_url, EXPECTED) as page:
                        flow = Flow(page, stack.base_url, api.key, receiver.base, files,
                                    shot=lambda name: save(page, name))
                        flow.sign_in()
                        flow.create_template_with_a_lint_error()
                        flow.fix_and_preview()
                        flow.publish()
                        flow.add_webhook()
                        flow.render_and_download(Path(workdir))
                        flow.see_renders()
                        flow.see_delivery()
                        flow.make_a_key()
                finally:
                    browser.close()
            api.close()
        finally:
            receiver.server.shutdown()
            stack.stop()
            stack.infra.stop()


if __name__ == "__main__":
    main()
