"""Fuzzing the whole gate with mutated manifests that carry planted credentials.

Each example takes seed manifests (every rule's documented examples and the shapes that hold
secrets), plants GitHub-token-shaped credentials, mutates the objects (wrong types, removed keys,
huge or odd values) and the text (explicit tags, truncation, control characters), and runs the
real CLI once with all six output formats. Properties: the exit code is 0, 1 or 2, no check fails
with an internal error, and no planted value appears in any output, in any case. The default run
has a fixed budget; ``-m slow`` runs the deep one before a release.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from gatekeeper.report import FORMATS
from tests.conftest import run_cli
from tests.fuzz.budget import budgets
from tests.fuzz.seeds import planted, seeds

CREDENTIAL_KEYS = ("password", "token", "apiKey", "client_secret", "DB_PASSWORD", "aws_secret_access_key")
ODD_VALUES: tuple[Any, ...] = ({}, [], None, True, 0, -1, 1.5e308, "", "x", "-", "../../x", "K" * 300,
                               [[{}]], {"a": [None]}, "\u202e\u0000", "${X}", "{{ .y }}", 10**30)
TAGS = ("!!bool ", "!!null ", "!!int ", "!!float ", "!!str ", "!!binary ", "!Custom ", "!!set ", "!!python/none ")
# The policy prints its whole input: detected credentials must reach it masked.
ECHO = ('package main\nimport rego.v1\n'
        'deny contains msg if { input.kind; msg := sprintf("object %v", [input]) }\n')


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*here, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*here, i)))
    return out


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = root
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return root


def _mutate(data: st.DataObject, doc: Any, secrets: list[str]) -> Any:
    """A few structural mutations and one or two planted credentials."""
    for _ in range(data.draw(st.integers(0, 3), label="mutations")):
        path = data.draw(st.sampled_from(_paths(doc)), label="path")
        op = data.draw(st.sampled_from(["replace", "delete", "wrap"]), label="op")
        if op == "replace":
            doc = _set(doc, path, copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES), label="value")))
        elif op == "delete" and path:
            parent = doc
            for part in path[:-1]:
                parent = parent[part]
            del parent[path[-1]]
        elif op == "wrap":
            current = doc
            for part in path:
                current = current[part]
            doc = _set(doc, path, data.draw(st.sampled_from([[current], {"x": current}]), label="wrap"))
    for secret in secrets:
        mappings = [p for p in _paths(doc) if isinstance(_get(doc, p), dict)]
        where = data.draw(st.sampled_from(["under-key", "env", "string-leaf"]), label="plant")
        strings = [p for p in _paths(doc) if p and isinstance(_get(doc, p), str)]
        if where == "string-leaf" and strings:
            doc = _set(doc, data.draw(st.sampled_from(strings), label="leaf"), secret)
        elif not mappings:
            doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
                {"name": "c", "image": "nginx:1", "env": [{"name": "API_TOKEN", "value": secret}]}]}}
        elif where == "env":
            target = _get(doc, data.draw(st.sampled_from(mappings), label="env-at"))
            target["env"] = [{"name": "API_TOKEN", "value": secret}]
        else:
            target = _get(doc, data.draw(st.sampled_from(mappings), label="key-at"))
            target[data.draw(st.sampled_from(CREDENTIAL_KEYS), label="key")] = secret
    return doc


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        root = root[part]
    return root


def _text(data: st.DataObject, docs: list[Any], name: str) -> str:
    """The documents as a file, sometimes damaged as text."""
    text = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)
    damage = data.draw(st.sampled_from(["none", "none", "tag", "truncate", "control", "tab", "bom"]), label="text")
    lines = text.splitlines(keepends=True)
    if damage == "tag":
        tagged = [i for i, ln in enumerate(lines) if ": " in ln]
        if tagged:
            i = data.draw(st.sampled_from(tagged), label="tag-line")
            lines[i] = lines[i].replace(": ", ": " + data.draw(st.sampled_from(TAGS), label="tag"), 1)
    elif damage == "truncate":
        text = text[: data.draw(st.integers(0, len(text)), label="cut")]
        return text
    elif damage == "control":
        i = data.draw(st.integers(0, len(lines)), label="at")
        lines.insert(i, data.draw(st.sampled_from(["\x1b]0;x\x07\n", "\r", "\x00\n", "\ufeff", "\u0085"]),
                                  label="char"))
    elif damage == "tab" and lines:
        lines[-1] = "\t" + lines[-1]
    elif damage == "bom":
        return "\ufeff" + text
    return "".join(lines)


def _run(data: st.DataObject) -> None:
    seed_texts = data.draw(st.lists(st.sampled_from(seeds()), min_size=1, max_size=3), label="seeds")
    secrets = [planted(data.draw(st.integers(0, 10**9), label="secret")) for _ in range(2)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pol").mkdir()
        (root / "pol" / "echo.rego").write_text(ECHO)
        manifests = root / "m"
        manifests.mkdir()
        for i, text in enumerate(seed_texts):
            try:
                docs = [d for d in yaml.safe_load_all(text)]
            except yaml.YAMLError:
                continue
            docs = [_mutate(data, d, secrets if i == 0 else []) for d in docs] or [{"password": secrets[0]}]
            name = data.draw(st.sampled_from(["a.yaml", "b.yml", "c.json"]), label="name")
            body = _text(data, docs, name)
            (manifests / f"{i}-{name}").write_bytes(body.encode("utf-8", "surrogatepass"))
        outputs = [f"{fmt}={root / ('out.' + fmt)}" for fmt in FORMATS if fmt != "text"]
        args = ["check", str(manifests), "--policy", str(root / "pol"), "--format", "text"]
        for spec in outputs:
            args += ["--format", spec]
        code, text = run_cli(*args)
        assert code in (0, 1, 2), code
        rendered = [text, *((root / f"out.{fmt}").read_text(encoding="utf-8") for fmt in FORMATS if fmt != "text")]
        assert "internal error" not in text, text
        for out in rendered:
            low = out.lower()
            for secret in secrets:
                assert secret.lower() not in low, "a planted credential reached the output"


test_mutated_manifests_with_planted_credentials, test_mutated_manifests_with_planted_credentials_deep = \
    budgets(_run, default=30, deep=1500)
