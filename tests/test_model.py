"""Field-path rendering: what every finding's ``field`` and fingerprint are built from."""

from __future__ import annotations

import pytest

from gatekeeper.model import format_field


@pytest.mark.parametrize(("path", "shown"), [
    ((), ""),
    (("spec", "containers", 0, "image"), "spec.containers[0].image"),
    (("metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"),
     "metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']"),
    (("data", "DB_PASSWORD"), "data.DB_PASSWORD"),
    (("data", "tls.crt"), "data['tls.crt']"),
    (("data", "with space"), "data['with space']"),
    (("x", "-_$@"), "x.-_$@"),
    (("x", "$ref"), "x.$ref"),
    (("x", "größe"), "x.größe"),
    (("x", ""), "x['']"),
    ((0, "a"), "[0].a"),
    (("items", 3, 1), "items[3][1]"),
])
def test_format_field(path: tuple[str | int, ...], shown: str) -> None:
    assert format_field(path) == shown
