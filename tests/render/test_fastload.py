"""The renderer-output loader gives exactly the full parse's objects, or hands the text to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.render import fastload
from gatekeeper.sources.yamlload import MAX_DEPTH, parse
from tests.conftest import shared_dir


def _typed(value: Any) -> Any:
    """A value with every scalar's type spelled out (``True == 1`` must not pass for equal)."""
    if isinstance(value, dict):
        return ("map", [(type(k).__name__, k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("seq", [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


def _full(text: str) -> tuple[list[Any], list[str]]:
    parsed = parse(SourceFile("out.yaml", text.encode()))
    return [d.obj for d in parsed.documents], [f.rule for f in parsed.findings]


@pytest.mark.parametrize("text", [
    "a: 1\nb: true\nc: null\nd: 1.5\ne: [x, 'y']\nf: ~\ng: 0x1F\nh: yes\ni: .inf\n",
    "when: 2024-01-02\nstamp: 2024-01-02T03:04:05Z\nbin: !!binary aGk=\n",
    "---\n# only a comment\n---\nkind: A\n---\n\n---\nkind: B\nlist:\n- {name: c, port: 80}\n",
    "a: !Custom {b: 1}\nc: !!map {d: [!!seq [e]]}\n",  # a tag on a collection is read as no tag
    "a: !!str 12\nb: !!int '12'\nc: !!float 1\nd: 'text: with # and &x and *y and !z'\n",
    "password: 'p&ss!word*'\nurl: https://h/?a=1&b=2\n",
    "key: |\n  line one\n  line two\nfolded: >-\n  a\n  b\n",
])
def test_regular_output_loads_as_the_full_parse_reads_it(text: str) -> None:
    fast = fastload.load(text)
    objects, findings = _full(text)
    assert findings == []
    assert fast is not None and _typed(fast) == _typed(objects)


@pytest.mark.parametrize(("text", "rule"), [
    ("a: 1\na: 2\n", "duplicate-key"),  # the full parse reports the duplicate
    ("a: !!null text\n", None),  # an explicit tag the text does not fit is read as text
    ("a: !!bool S3cr3t\n", "parse-error"),
    ("a: !!int abc\n", "parse-error"),
    ("1: one\ntrue: two\n3.5: four\n", None),  # keys that are not text: the full parse's rules
    ("base: &b {x: 1}\nuse: *b\n", None),  # an alias: the full parse bounds expansion
    ("base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n", None),
    ('a: "\\ud800"\n', "parse-error"),
    ("a: [1, 2\n", "parse-error"),
    ("a: *undefined\n", "parse-error"),
    ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", "parse-error"),
    ("n: 1" + "0" * 5000 + "\n", "parse-error"),
])
def test_irregular_output_goes_to_the_full_parse(text: str, rule: str | None) -> None:
    assert fastload.load(text) is None
    _, findings = _full(text)
    assert findings == ([rule] if rule else [])


def test_an_anchor_without_an_alias_stays_on_the_fast_path() -> None:
    text = "a: &x {b: 1}\nc: &y 2\n"
    fast = fastload.load(text)
    assert fast is not None and _typed(fast) == _typed(_full(text)[0])


def test_every_real_manifest_loads_as_the_full_parse_reads_it() -> None:
    root = shared_dir("corpus", "real")
    checked = 0
    for path in sorted(root.rglob("*.y*ml")):
        data = path.read_bytes()
        try:
            fast = fastload.load(data.decode("utf-8"))
        except UnicodeDecodeError:
            continue
        if fast is None:
            continue
        parsed = parse(SourceFile(str(Path(path).relative_to(root)), data))
        assert parsed.findings == [], path
        assert _typed(fast) == _typed([d.obj for d in parsed.documents]), path
        checked += 1
    assert checked > 400
