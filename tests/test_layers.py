"""Every import in gatekeeper/ runs downward through the layers drawn in docs/architecture.md.

The layer diagram is the source of truth: each line of the code block under "## Layers" starts
with the top-level modules and packages of one layer (highest first). A module may import from
its own layer and the layers below. Every import counts: module-level, inside functions, under
``TYPE_CHECKING``, and modules named by string (``"gatekeeper.checks.lint:LintCheck"``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import PROJECT

PACKAGE = PROJECT / "gatekeeper"
ARCHITECTURE = PROJECT / "docs" / "architecture.md"
_ENTRY = re.compile(r"[A-Za-z_][\w]*(?:/|\.py)")
_DOTTED = re.compile(r"gatekeeper(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_]\w*)?")
_WHERE = ("add it to the layer diagram in docs/architecture.md (\"## Layers\"), on the line of the lowest "
          "layer that holds everything it imports, or on a new line placed there")


def diagram_layers(text: str) -> dict[str, int]:
    """Top-level name (``checks``, ``model``, ``__init__``) -> layer number (0 is the lowest)."""
    section = text.split("## Layers", 1)[1]
    block = section.split("```", 2)[1]
    lines = [line for line in block.splitlines()[1:] if line and not line[0].isspace()]
    layers: dict[str, int] = {}
    for height, line in enumerate(reversed(lines)):
        tokens = re.split(r"\s{2,}", line, maxsplit=1)[0].split()
        assert all(_ENTRY.fullmatch(t) for t in tokens), (
            f"a layer line starts with modules and packages (`checks/ rego/`, `config.py`), then two spaces "
            f"and a description: {line!r}")
        names = [t.removesuffix("/").removesuffix(".py") for t in tokens]
        for name in names:
            assert name not in layers, f"{name} is on two lines of the layer diagram"
            layers[name] = height
    return layers


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level(module: str) -> str:
    """``gatekeeper.checks.lint.pods`` -> ``checks``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_module(dotted: str) -> bool:
    """A module file or a package directory (namespace packages have no ``__init__.py``)."""
    rel = PROJECT / Path(*dotted.split("."))
    return rel.with_suffix(".py").is_file() or (rel.is_dir() and any(rel.glob("*.py")))


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported gatekeeper module) for every import in a file of gatekeeper/."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in ``source``, a module of ``package``, wherever
    it is written."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            yield node.lineno, source
            for alias in node.names:  # ``from gatekeeper import config`` imports the module gatekeeper.config
                if _is_module(f"{source}.{alias.name}"):
                    yield node.lineno, f"{source}.{alias.name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.fullmatch(node.value):
            dotted = node.value.partition(":")[0]
            if _is_module(dotted):
                yield node.lineno, dotted


def violations(layers: dict[str, int]) -> tuple[list[str], list[str]]:
    """(upward imports, top-level names missing from the diagram) across gatekeeper/."""
    upward: list[str] = []
    missing: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        here = top_level(module_name(path))
        if here not in layers:
            missing.add(here)
            continue
        for line, target in imports(path):
            if target != "gatekeeper" and not target.startswith("gatekeeper."):
                continue
            there = top_level(target)
            if there not in layers:
                missing.add(there)
            elif layers[there] > layers[here]:
                upward.append(f"{path.relative_to(PROJECT)}:{line}: {module_name(path)} ({here}) imports "
                              f"{target} ({there}), which is drawn above it")
    return upward, sorted(missing)


def test_every_import_in_gatekeeper_runs_down_the_documented_layers() -> None:
    layers = diagram_layers(ARCHITECTURE.read_text(encoding="utf-8"))
    upward, missing = violations(layers)
    assert not missing, "\n".join(f"gatekeeper/{m} is in no layer: {_WHERE}" for m in missing)
    assert not upward, ("imports that run upward (move the code, or pass what it needs down as an argument "
                        "the way config and waivers take the rule catalogue):\n" + "\n".join(upward))


def test_the_diagram_names_only_what_exists() -> None:
    layers = diagram_layers(ARCHITECTURE.read_text(encoding="utf-8"))
    stale = [n for n in layers if n != "__init__" and not _is_module(f"gatekeeper.{n}")]
    assert not stale, f"the layer diagram in docs/architecture.md names what gatekeeper/ does not have: {stale}"


def test_the_checker_sees_every_kind_of_import() -> None:
    """The checker itself: an import in a function, a relative one, one by string, one under
    TYPE_CHECKING, and ``from package import module`` are all seen; an upward one is reported."""
    samples = {
        "def f():\n    from gatekeeper.checks import catalogue\n": "gatekeeper.checks",
        "from .checks import base\n": "gatekeeper.checks.base",
        "X = 'gatekeeper.checks.lint:LintCheck'\n": "gatekeeper.checks.lint",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import gatekeeper.checks.base\n":
            "gatekeeper.checks.base",
        "from gatekeeper import checks\n": "gatekeeper.checks",
    }
    for source, target in samples.items():
        assert target in {t for _, t in imports_in(source, "gatekeeper")}, source
    layers = diagram_layers("## Layers\n\n```\ncli/   top\nchecks/ rego/  middle\n  more words\n"
                            "model.py __init__.py  bottom\n```\n")
    assert layers == {"cli": 2, "checks": 1, "rego": 1, "model": 0, "__init__": 0}
    upward, missing = violations({**layers, "checks": -1})
    assert any("gatekeeper.checks" in u for u in upward)
    assert "config" in missing


def test_no_module_reaches_into_another_packages_private_names() -> None:
    """A name with a leading underscore is private to its top-level package: another package uses a
    public entry point (``cli/verify`` read the policy check's ``_load_data``)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            if not source.startswith("gatekeeper.") or top_level(source) == top_level(module):
                continue
            found += [f"{path.relative_to(PROJECT)}:{node.lineno}: {source}.{a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, "private names used across packages (give them a public entry point):\n" + "\n".join(found)
