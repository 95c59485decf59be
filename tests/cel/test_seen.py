"""What admission policies see of an object without the redactor's copy: within the paths the policies
read, exactly what the redactor gives (``admission.seen``), measured in the same walk
(``views.measure_clean``), for clean objects, Secrets, objects holding a value detected in them and
objects holding a copy of a value detected elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper import cel
from gatekeeper.cel.views import measure_clean, measure_within, merge_paths, prune, trie
from gatekeeper.checks.admission.seen import seen
from gatekeeper.checks.policy.redact import Redactor
from gatekeeper.pipeline import Run, load
from tests.conftest import run_cli
from tests.secrets.fakes import password

pytestmark = pytest.mark.skipif(not cel.available(), reason="cel-expr-python needs Python 3.11+")


def strings(value: Any) -> list[str]:
    """Every string value (not key) in ``value``."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 64), 1 << 64),
                   st.sampled_from(["a", "b", "é", "\ud800"]), st.floats(allow_nan=True))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["a", "b", "c"]), inner, max_size=3), max_leaves=12)
PATHS = st.lists(st.lists(st.sampled_from(["a", "b", "*"]), min_size=1, max_size=3).map(tuple), max_size=3)


@settings(max_examples=300, deadline=None)
@given(VALUES, PATHS, st.sets(st.sampled_from(["a", "b", "é"])))
def test_measure_clean_is_measure_within_and_a_test_of_the_kept_strings(value: Any, paths: list[tuple[str, ...]],
                                                                         exact: set[str]) -> None:
    kept = trie(merge_paths([tuple(paths)])) if paths else None
    weight, plain, clean = measure_clean(value, kept, frozenset(exact))
    assert (weight, plain) == measure_within(value, kept)
    assert clean == (not set(strings(prune(value, kept))) & exact)
    inside = tuple(sorted(exact))
    assert measure_clean(value, kept, frozenset(), inside) == (
        weight, plain, not any(v in s for s in strings(prune(value, kept)) for v in inside))


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: x
  labels: {{app: "{label}"}}
spec:
  template:
    spec:
      containers:
        - name: c
          image: nginx:1
          env: [{{name: DB_PASSWORD, value: "{env}"}}]
          args: ["--dsn=postgres://app:{env}@db"]
"""


def test_within_the_view_policies_see_what_the_redactor_gives(tmp_path: Path) -> None:
    secret, other = password(), password()
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.format(name="holder", label="web", env=secret))
    (tmp_path / "b.yaml").write_text(DEPLOYMENT.format(name="copy", label=secret, env="x"))
    (tmp_path / "c.yaml").write_text(DEPLOYMENT.format(name="clean", label="web", env="x"))
    (tmp_path / "d.yaml").write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: x}}\n"
                                     f"stringData: {{password: \"{other}\"}}\n")
    loaded = load(Run(root=tmp_path, paths=[tmp_path]))
    redactor = Redactor(loaded.documents)
    assert secret in redactor.values
    by_name = {r.name: r.obj for r in loaded.resources}
    views = [trie((("metadata", "labels"), ("spec", "template", "spec", "containers", "*", "args"))),
             trie((("metadata",), ("stringData",))), trie((("spec",),)), None]
    taken = set()
    for name, obj in by_name.items():
        for view in views:
            got, measured = seen(redactor, obj, view)
            assert prune(got, view) == prune(redactor(obj), view), (name, view)
            if measured is not None:
                assert got is obj  # no copy: the object itself, measured on the way
                assert measured == measure_within(redactor(obj), view)
                taken.add(name)
    # the clean object, and the others where their detected values are outside the view, are not copied
    assert taken == {"clean", "copy", "holder"}
    got, measured = seen(redactor, by_name["holder"], views[0])  # its connection string is in this view
    assert measured is None and secret not in got["spec"]["template"]["spec"]["containers"][0]["args"][0]
    got, measured = seen(redactor, by_name["copy"], views[0])
    assert measured is None and got["metadata"]["labels"]["app"] != secret


POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: show}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE"], resources: ["deployments"]}]
  validations:
    - expression: "false"
      messageExpression: "'app=' + object.metadata.labels.app.substring(1) + ' args=' +
        object.spec.template.spec.containers[0].args[0].substring(1)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: show}
spec: {policyName: show, validationActions: [Deny]}
"""


def test_a_policy_never_prints_a_value_detected_in_its_object_or_elsewhere(tmp_path: Path) -> None:
    secret = password()
    (tmp_path / "vap.yaml").write_text(POLICY)
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.format(name="holder", label="web", env=secret))
    (tmp_path / "b.yaml").write_text(DEPLOYMENT.format(name="copy", label=secret, env="x"))
    (tmp_path / "c.yaml").write_text(DEPLOYMENT.format(name="clean", label="web", env="x"))
    code, out = run_cli("check", "--checks", "admission", "--format", "json", str(tmp_path))
    assert code == 1
    assert secret[1:] not in out and secret[1:8] not in out
    assert out.count("redacted: 20 characters") >= 2  # the copy's label, the holder's connection string
    assert "args=-dsn=postgres://app:x@db" in out  # the clean object as it is
