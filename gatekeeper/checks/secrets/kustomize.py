"""Kustomize generators: ``secretGenerator`` literals, and the ``envs``/``files`` they read.

Generator files are not YAML (``.env``, key files), so the walker never loads them; they are
read here, relative to the kustomization's directory and only when they resolve inside the
scanned root. Findings in them point at the generator file's own line.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gatekeeper.checks.secrets import embedded
from gatekeeper.checks.secrets.keys import KeyKind, classify
from gatekeeper.checks.secrets.scan import Hit, Place, Scanner
from gatekeeper.checks.secrets.values import is_public_material

KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
MAX_GENERATOR_FILE = 1024 * 1024
RULE = "secret-kustomize-generator"


@dataclass(slots=True)
class FileHit:
    """A hit inside a generator file: its path relative to the root and 1-based line."""

    path: str
    line: int
    hit: Hit


def is_kustomization(path: str, obj: Any) -> bool:
    """A kustomization file, by name or by ``kind: Kustomization`` / ``Component``."""
    if not isinstance(obj, dict):
        return False
    if path.rpartition("/")[2] in KUSTOMIZATION_NAMES:
        return True
    return obj.get("kind") in ("Kustomization", "Component") and \
        str(obj.get("apiVersion", "")).startswith("kustomize.config.k8s.io/")


def scan_kustomization(scanner: Scanner, obj: dict[str, Any], doc_path: str, root: Path | None) -> list[FileHit]:
    """Scan generators (secretGenerator as credentials, configMapGenerator as config) and the rest;
    the files generators read are scanned too unless ``root`` is None."""
    file_hits: list[FileHit] = []
    for field, place in (("secretGenerator", Place.GENERATOR), ("configMapGenerator", Place.CONFIG)):
        generators = obj.get(field)
        if not isinstance(generators, list):
            continue
        for i, gen in enumerate(generators):
            if not isinstance(gen, dict):
                continue
            base = (field, i)
            literals = gen.get("literals")
            if isinstance(literals, list):
                for j, literal in enumerate(literals):
                    if isinstance(literal, str) and "=" in literal:
                        key, _, value = literal.partition("=")
                        _judge(scanner, key.strip(), _unquote(value), (*base, "literals", j), place)
            if root is None:
                continue
            sources = [*_strings(gen.get("envs")), *_strings([gen.get("env")])]
            for rel in sources:
                file_hits.extend(_env_file(rel, doc_path, root, place))
            for spec in _strings(gen.get("files")):
                file_hits.extend(_key_file(spec, doc_path, root, place))
    rest = {k: v for k, v in obj.items() if k not in ("secretGenerator", "configMapGenerator")}
    scanner.walk(rest)
    return file_hits


def secret_sources(doc_path: str, obj: Any, root: Path | None = None) -> set[str]:
    """Paths (relative to the root) of the files a kustomization's secretGenerators read: their
    content is credentials by construction, wherever else they are loaded. Each path is given
    normalised as written and, with ``root``, as the file the check reads (symlinks followed)."""
    if not is_kustomization(doc_path, obj):
        return set()
    base = PurePosixPath(doc_path).parent
    out: set[str] = set()
    generators = obj.get("secretGenerator")
    for gen in generators if isinstance(generators, list) else ():
        if not isinstance(gen, dict):
            continue
        for spec in [*_strings(gen.get("files")), *_strings(gen.get("envs")), *_strings([gen.get("env")])]:
            rel = (spec.partition("=")[2] if "=" in spec else spec).strip()
            out.add(posixpath.normpath((base / rel).as_posix()))
            found = _resolve(rel, doc_path, root) if root is not None else None
            if found is not None:
                out.add(found[1])
    return out


def _judge(scanner: Scanner, key: str, value: str, path: tuple[str | int, ...], place: Place) -> None:
    if place is Place.GENERATOR:
        scanner.held(key, value, path, RULE, f"secretGenerator literal '{key}'")
    else:
        scanner.value(key, value, path, place)


def _strings(items: Any) -> list[str]:
    return [s for s in items if isinstance(s, str) and s.strip()] if isinstance(items, list) else []


def _unquote(value: str) -> str:
    v = value.strip()
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'" else v


def _resolve(rel: str, doc_path: str, root: Path) -> tuple[Path, str] | None:
    """The generator file inside the scanned root (None when outside, missing or too big)."""
    top = root.resolve()
    target = ((root / doc_path).parent / rel).resolve()
    if target != top and top not in target.parents:
        return None
    if not target.is_file() or target.stat().st_size > MAX_GENERATOR_FILE:
        return None
    return target, target.relative_to(top).as_posix()


def _read(target: Path) -> str | None:
    try:
        return target.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None


def _env_file(rel: str, doc_path: str, root: Path, place: Place) -> list[FileHit]:
    found = _resolve(rel, doc_path, root)
    if found is None:
        return []
    target, shown = found
    text = _read(target)
    if text is None:
        return []
    out: list[FileHit] = []
    for pair in embedded.env_pairs(text):
        sub = Scanner(high_entropy=False)
        _judge(sub, pair.key, pair.value, (pair.key,), place)
        out.extend(FileHit(shown, pair.line + 1, hit) for hit in sub.hits)
    return out


def _key_file(spec: str, doc_path: str, root: Path, place: Place) -> list[FileHit]:
    key, sep, rel = spec.partition("=")
    if not sep:
        rel, key = spec, PurePosixPath(spec).name
    found = _resolve(rel.strip(), doc_path, root)
    if found is None:
        return []
    target, shown = found
    text = _read(target)
    sub = Scanner(high_entropy=False)
    key = key.strip()
    if text is None:  # binary (a keystore): in a secretGenerator that is key material
        if place is Place.GENERATOR and classify(key) not in (KeyKind.PUBLIC, KeyKind.REFERENCE):
            sub.add(RULE, (key,), target.read_bytes().hex(), f"secretGenerator file '{key}' (binary)")
        return [FileHit(shown, 1, hit) for hit in sub.hits]
    if sub.tokens(text, (key,), f"in generator file '{key}'", anchor=(key,), sub_line=0):
        return [FileHit(shown, (hit.sub_line or 0) + 1, hit) for hit in sub.hits]
    if place is Place.GENERATOR and text.strip() and not is_public_material(text):
        pairs = list(embedded.pairs(text))
        if pairs:
            for pair in pairs:
                sub.held(pair.key, pair.value, (key, *pair.path), RULE, f"secretGenerator file '{key}'")
                for hit in sub.hits:
                    if hit.sub_line is None:
                        hit.sub_line = pair.line
        else:
            sub.held(key, text, (key,), RULE, f"secretGenerator file '{key}'")
    elif place is Place.CONFIG:
        for pair in embedded.pairs(text):
            sub.value(pair.key, pair.value, (key, *pair.path), place, anchor=(key,), sub_line=pair.line)
    return [FileHit(shown, (hit.sub_line or 0) + 1, hit) for hit in sub.hits]
