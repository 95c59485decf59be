"""Property: whatever secret is found, no rendered report (every format) and no baseline contains it."""

from __future__ import annotations

import base64
import json
import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gatekeeper import baseline
from gatekeeper.checks import all_rules
from gatekeeper.checks.secrets.values import looks_random, safe_value
from gatekeeper.report import FORMATS, render
from tests.secrets.fakes import scan

ALPHABET = string.ascii_letters + string.digits + "!#%&*+-=?@^_~.,;:"
secrets = st.text(alphabet=ALPHABET, min_size=16, max_size=48).filter(
    lambda v: looks_random(v) and not safe_value(v, "password") and v == v.strip())


def _manifests(value: str) -> dict[str, str]:
    q = json.dumps(value)
    b64 = base64.b64encode(value.encode()).decode()
    return {
        "secret.yaml": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: {q}\n"
                       f"data:\n  token: {b64}\n",
        "deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n"
                       "    spec:\n      containers:\n        - name: c\n          image: c:1\n          env:\n"
                       f"            - name: DB_PASSWORD\n              value: {q}\n",
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n"
                   f"  API_TOKEN: {q}\n  application.yaml: |\n    db:\n      password: {q}\n",
        "kubeconfig.yaml": f"apiVersion: v1\nkind: Config\nusers:\n  - name: u\n    user:\n      token: {q}\n",
        "values.yaml": f"auth:\n  adminPassword: {q}\n",
    }


# Text every report may carry whatever it found (rule ids, summaries, hints): a generated value
# that happens to be a piece of it is not a leak.
_VOCABULARY = "\n".join(f"{r.id} {r.summary} {r.hint} {r.rationale}" for r in all_rules())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=secrets)
def test_no_format_contains_a_detected_secret(value: str) -> None:
    assume(all(value not in text for text in ("Secret", "ConfigMap", "Deployment", "password")))
    assume(value not in _VOCABULARY)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in _manifests(value).items():
            (root / name).write_text(text, encoding="utf-8")
        report = scan(root)
        assert not report.errors
        found = {f.path for f in report.findings if f.check == "secrets"}
        assert found == {"secret.yaml", "deploy.yaml", "cm.yaml", "kubeconfig.yaml", "values.yaml"}
        encoded = base64.b64encode(value.encode()).decode()
        outputs = [render(report, name) for name in FORMATS]
        outputs.append(baseline.render(report.findings))
        outputs.extend(e.message for e in report.errors)
        for text in outputs:
            assert value not in text
            assert encoded not in text
            assert json.dumps(value)[1:-1] not in text  # nor its JSON-escaped form
