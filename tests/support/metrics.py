"""Reading a live server's /metrics in tests."""

from __future__ import annotations

import urllib.request


def scrape(endpoint: str) -> str:
    """The text of one scrape, over a new connection (any worker may answer it)."""
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return str(response.read().decode())


def samples(text: str, name: str, **labels: str) -> list[float]:
    """Values of the samples ``name`` carrying at least ``labels``."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    found = []
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if (series == name or series.startswith(name + "{")) and all(w in series for w in wanted):
            found.append(float(value))
    return found


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the one sample ``name`` with ``labels`` (several: an error)."""
    found = samples(text, name, **labels)
    assert len(found) == 1, f"{len(found)} samples {name} {labels}"
    return found[0]


def gained(before: str, after: str, name: str, **labels: str) -> float:
    """How much the samples ``name`` with at least ``labels`` grew between two scrapes."""
    return sum(samples(after, name, **labels)) - sum(samples(before, name, **labels))
