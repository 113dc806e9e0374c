"""Reading a service's /metrics as Prometheus would: one scrape, parsed by prometheus_client."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One scrape of a /metrics endpoint: `value(name, **labels)` is the sample's value (0 when
    the series is absent, as a counter that never moved); `series(name)` every label set."""

    def __init__(self, url: str) -> None:
        response = httpx.get(url, timeout=10)
        response.raise_for_status()
        self.text = response.text
        self.samples = [sample for family in text_string_to_metric_families(response.text)
                        for sample in family.samples]

    def value(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    def series(self, name: str) -> list[dict[str, str]]:
        return [s.labels for s in self.samples if s.name == name]

    def lists(self, name: str) -> bool:
        """Whether the metric is registered (its TYPE line), with samples or not."""
        return f"\n# TYPE {name} " in f"\n{self.text}"
