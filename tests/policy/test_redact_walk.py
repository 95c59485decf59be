"""One walk prepares an object for policies: detected values replaced and doubtful leaves noted."""

from __future__ import annotations

from gatekeeper.checks.policy.redact import Redactor
from gatekeeper.checks.policy.values import may_hold_invalid
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.resources import extract
from gatekeeper.sources.yamlload import parse

TEXT = b"""apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data:
  url: postgres://app:Zq8vLmP2xRt7Kw9sYh3N@db/app
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
data:
  copy: Zq8vLmP2xRt7Kw9sYh3N
  count: "3"
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: c}
spec:
  sizes: [1, 2, 123456789012345678901234]
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: d}
spec:
  ratio: .nan
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: e}
spec:
  sizes: [1, 2.5, true, null, -9223372036854775808]
"""


def test_prepare_scrubs_and_doubts_in_one_walk() -> None:
    docs = parse(SourceFile("cm.yaml", TEXT)).documents
    for doc in docs:
        extract(doc)
    redactor = Redactor(docs)
    assert redactor.values  # the password was detected, so every object is walked
    got = [redactor.prepare(doc.obj) for doc in docs]
    assert got[0][0]["data"]["url"] == "postgres://app:<redacted: 20 characters>@db/app"
    assert got[1][0]["data"] == {"copy": "<redacted: 20 characters>", "count": "3"}
    assert [doubt for _, doubt in got] == [False, False, True, True, False]
    assert [doubt for _, doubt in got] == [may_hold_invalid(obj, 100, 50) for obj, _ in got]
    assert [obj for obj, _ in got] == [redactor(doc.obj) for doc in docs]
    clean = Redactor([docs[2]])  # nothing detected: no scrubbing walk, the plain check
    assert not clean.values and clean.prepare(docs[2].obj) == (docs[2].obj, True)


def test_prepared_objects_are_remembered_by_identity() -> None:
    docs = parse(SourceFile("cm.yaml", TEXT)).documents
    for doc in docs:
        extract(doc)
    redactor = Redactor(docs)
    first = redactor.prepare(docs[0].obj)
    assert redactor.prepare(docs[0].obj)[0] is first[0]
    twin = {**docs[0].obj}  # equal content, another object: prepared on its own (no local values known)
    assert redactor.prepare(twin)[0]["data"]["url"] == docs[0].obj["data"]["url"]
