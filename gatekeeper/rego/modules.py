"""Rego modules as the engines load them: source, the v1 text, package, rule names, builtins used.

Loading reads the module's syntax version (v0 modules are rewritten, see ``upgrade``),
finds its package and rule names from the tokens, and refuses modules that call a builtin
the embedded engine lacks: such a call would otherwise be silently undefined.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from gatekeeper.rego.hoist import HoistError, fix_sprintf, hoist
from gatekeeper.rego.tokens import Token, TokenError, statements, tokenize
from gatekeeper.rego.upgrade import UpgradeError, prepare_module

REGO_VERSIONS = ("auto", "v0", "v1")
INPUT_ROOT = "gatekeeper_input"
CONFTEST_ROOT = "gatekeeper_conftest"
_NOT_CALLS = frozenset({"not", "some", "every", "in", "with", "as", "default", "if", "contains", "else",
                        "package", "import", "data", "input"})
# builtins rego-cpp evaluates although it does not list them as builtins
_ENGINE_SPECIAL = frozenset({"print"})


class PolicyLoadError(Exception):
    """A policy that cannot be loaded: names the file and, where known, the line."""


@dataclass(slots=True)
class Module:
    """One Rego module ready to load."""

    path: str
    text: str
    source: str
    version: str
    package: tuple[str, ...]
    rules: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)
    calls: dict[str, int] = field(default_factory=dict)  # called name -> first line
    lines: dict[str, int] = field(default_factory=dict)  # rule name -> line of its first head

    @property
    def package_name(self) -> str:
        return ".".join(self.package)


def load_module(path: str, text: str, version: str = "auto", input_root: str = INPUT_ROOT) -> Module:
    """Parse a module's outline and produce the v1 source to load; PolicyLoadError when it cannot."""
    if version not in REGO_VERSIONS:
        raise PolicyLoadError(f"unknown rego version {version!r} (expected auto, v0 or v1)")
    try:
        source, found = prepare_module(text, version)
        stmts = statements(tokenize(source))
    except (TokenError, UpgradeError) as exc:
        raise PolicyLoadError(f"{path}:{exc.line}: {exc}".replace(f"line {exc.line}: ", "")) from None
    try:
        source = reroot(hoist(fix_sprintf(source)), input_root)
    except (TokenError, HoistError) as exc:
        raise PolicyLoadError(f"{path}:{exc.line}: {exc}".replace(f"line {exc.line}: ", "")) from None
    package = _package(stmts)
    if package is None:
        raise PolicyLoadError(f"{path}:1: no package declaration")
    module = Module(path, text, source, found, package)
    for stmt in stmts:
        head = stmt[0].text
        if head == "package":
            continue
        if head == "import":
            module.imports.add(_import_alias(stmt))
            continue
        name_tok = stmt[1] if head == "default" and len(stmt) > 1 else stmt[0]
        if name_tok.kind != "ident":
            continue
        module.rules.add(name_tok.text)
        module.lines.setdefault(name_tok.text, name_tok.line)
        idx = stmt.index(name_tok)
        if idx + 1 < len(stmt) and stmt[idx + 1].is_punct("("):
            module.functions.add(name_tok.text)
        _collect_calls(stmt[idx + 1:], module.calls)
    return module


def _package(stmts: list[list[Token]]) -> tuple[str, ...] | None:
    for stmt in stmts:
        if stmt[0].text == "package":
            parts: list[str] = []
            for tok in stmt[1:]:
                if tok.kind == "ident":
                    parts.append(tok.text)
                elif tok.kind == "string":
                    parts.append(tok.text[1:-1])
            return tuple(parts)
    return None


def _import_alias(stmt: list[Token]) -> str:
    words = [t for t in stmt if t.kind in ("ident", "string")]
    if len(words) >= 2 and words[-2].text == "as":
        return words[-1].text
    return words[-1].text.strip('"') if words else ""


def _collect_calls(tokens: Sequence[Token], calls: dict[str, int]) -> None:
    """Dotted names directly followed by ``(`` (function calls), outside strings and comments."""
    k = 0
    n = len(tokens)
    while k < n:
        tok = tokens[k]
        if tok.kind == "ident" and not (k > 0 and tokens[k - 1].is_punct(".")):
            j = k
            parts = [tok.text]
            while j + 2 < n and tokens[j + 1].is_punct(".") and tokens[j + 2].kind == "ident":
                parts.append(tokens[j + 2].text)
                j += 2
            if j + 1 < n and tokens[j + 1].is_punct("("):
                calls.setdefault(".".join(parts), tok.line)
            k = j + 1
            continue
        k += 1


def check_builtins(modules: Iterable[Module], is_builtin: Callable[[str], bool]) -> None:
    """Refuse a policy set that calls a function that is neither defined, imported nor a builtin."""
    modules = list(modules)
    defined = {f for m in modules for f in m.functions}
    for module in modules:
        for name, line in module.calls.items():
            root = name.split(".", 1)[0]
            if root in _NOT_CALLS or root in module.imports or name in defined or name in _ENGINE_SPECIAL:
                continue
            if not is_builtin(name):
                raise PolicyLoadError(
                    f"{module.path}:{line}: calls {name}(), which the embedded Rego engine (rego-cpp) does not "
                    "provide; rewrite the policy without it or evaluate it on an OPA server (--opa-url)")


def reroot(source: str, input_root: str = INPUT_ROOT) -> str:
    """Move ``input`` to ``input.gatekeeper_input`` and ``data.conftest`` to ``input.gatekeeper_conftest``.

    rego-cpp crashes on ``with input as <value>`` (replacing the whole input document), but
    handles ``with input.<field> as``; with every reference one level down, test overrides and
    policies behave as in OPA. Moving ``data.conftest`` into the input lets one compiled
    bundle serve every file. Line numbers are unchanged.
    """
    tokens = tokenize(source)
    sig = [t for t in tokens if t.significant]
    out: list[str] = []
    pos = 0
    in_import = False
    for k, tok in enumerate(sig):
        if tok.kind == "nl":
            in_import = False
            continue
        prev = sig[k - 1] if k > 0 else None
        if tok.kind == "ident" and tok.text == "import" and (prev is None or prev.kind == "nl"):
            in_import = True
            continue
        if tok.kind != "ident" or (prev is not None and prev.is_punct(".")):
            continue
        nxt = sig[k + 1] if k + 1 < len(sig) else None
        replacement = None
        if tok.text == "input":
            if in_import and (nxt is None or nxt.kind == "nl"):
                raise TokenError("'import input' is not supported; import input.<field> instead", tok.line)
            replacement = f"input.{input_root}"
        elif tok.text == "data" and nxt is not None and nxt.is_punct(".") and k + 2 < len(sig) \
                and sig[k + 2].kind == "ident" and sig[k + 2].text == "conftest":
            out.append(source[pos:tok.start])
            out.append(f"input.{CONFTEST_ROOT}")
            pos = sig[k + 2].start + len("conftest")
            continue
        if replacement is not None:
            out.append(source[pos:tok.start])
            out.append(replacement)
            pos = tok.start + len(tok.text)
            if in_import and _import_needs_alias(sig, k):
                out.append(source[pos:_line_end(sig, k)])
                out.append(f" as {_last_ident(sig, k)}")
                pos = _line_end(sig, k)
    out.append(source[pos:])
    return "".join(out)


def _line_end(sig: list[Token], k: int) -> int:
    j = k
    while j + 1 < len(sig) and sig[j + 1].kind != "nl":
        j += 1
    return sig[j].start + len(sig[j].text)


def _import_needs_alias(sig: list[Token], k: int) -> bool:
    j = k
    while j + 1 < len(sig) and sig[j + 1].kind != "nl":
        j += 1
        if sig[j].kind == "ident" and sig[j].text == "as":
            return False
    return True


def _last_ident(sig: list[Token], k: int) -> str:
    j = k
    last = sig[k].text
    while j + 1 < len(sig) and sig[j + 1].kind != "nl":
        j += 1
        if sig[j].kind == "ident":
            last = sig[j].text
        elif sig[j].kind == "string":
            last = sig[j].text.strip('"')
    return last
