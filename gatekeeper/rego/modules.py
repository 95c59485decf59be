"""Rego modules as the engine loads them: syntax version, the text to load, and an outline.

Loading reads the module's syntax version (``auto`` detects it; v0 and v1 are both read
natively), applies the rewrites that make regorus read it as OPA does (``rewrite``), parses it
once with regorus to learn its package, rules, functions and calls (``outline``), and refuses
what would otherwise fail silently or crash: a call of a builtin the engine lacks, and
recursion between rules or functions.

Policy text is untrusted input, and parsing it is work without a bound (regorus's parser takes
time exponential in the nesting depth of some literals). So a module is read behind the same
boundary as evaluation (``boundary.run``: a forked worker with the CPU-time and memory limits);
the worker also parses the rewritten text as the compiler will, so the gate's own process only
ever repeats parses that are known to finish within the limits. Successful loads are memoised
by text, so a template read again (a Suite per test, the base pass of a pull request) costs
nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from gatekeeper.rego import boundary, native
from gatekeeper.rego.outline import Outline, find_cycle, outline
from gatekeeper.rego.rewrite import hoist_negations, prepare
from gatekeeper.rego.tokens import TokenError, statements, tokenize

REGO_VERSIONS = ("auto", "v0", "v1")


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
    outline: Outline = field(default_factory=Outline)

    @property
    def package_name(self) -> str:
        return ".".join(self.package)

    @property
    def v0(self) -> bool:
        return self.version == "v0"


def detect_version(text: str) -> str:
    """``v1`` when the module imports ``rego.v1`` or uses ``if``/``contains`` heads without
    ``future.keywords``; otherwise ``v0``."""
    stmts = statements(tokenize(text))
    future = False
    for stmt in stmts:
        words = [t.text for t in stmt]
        if words[:1] == ["import"]:
            if words[1:4] == ["rego", ".", "v1"]:
                return "v1"
            if words[1:4] == ["future", ".", "keywords"]:
                future = True
    if future:
        return "v0"
    for stmt in stmts:
        if stmt[0].text in ("package", "import"):
            continue
        for k, tok in enumerate(stmt):
            if tok.kind != "ident":
                continue
            if tok.text == "if":
                return "v1"
            if tok.text == "contains" and not (k + 1 < len(stmt) and stmt[k + 1].is_punct("(")):
                return "v1"
    return "v0"


_MEMO: OrderedDict[tuple[str, str, str], Module] = OrderedDict()
_MEMO_SIZE = 512


def load_module(path: str, text: str, version: str = "auto", limits: boundary.Limits | None = None) -> Module:
    """Read a module behind the evaluation boundary; PolicyLoadError when it cannot be loaded,
    or when reading it exceeds the limits."""
    return load_modules([(path, text, version)], limits)[0]


def load_modules(items: Sequence[tuple[str, str, str]], limits: boundary.Limits | None = None) -> list[Module]:
    """Read (path, text, version) modules in worker processes with the time and memory limits
    (one task each, so a failure names its file); PolicyLoadError for the first that cannot be
    loaded, in the given order."""
    keys = list(items)
    missing = list(dict.fromkeys(k for k in keys if k not in _MEMO))
    if missing:
        limits = limits or boundary.Limits()
        try:
            loaded = boundary.run(len(missing), lambda i, _: _read_bounded(*missing[i]),
                                  lambda i, _: f"{missing[i][0]}: reading the Rego module", limits)
        except boundary.BoundaryError as exc:
            raise PolicyLoadError(str(exc)) from None
        errors = dict(zip(missing, loaded, strict=True))
        for key in keys:
            if isinstance(errors.get(key), str):
                raise PolicyLoadError(str(errors[key]))
        for key, module in errors.items():
            assert isinstance(module, Module)
            _MEMO[key] = module
            while len(_MEMO) > _MEMO_SIZE:
                _MEMO.popitem(last=False)
    out = []
    for key in keys:
        _MEMO.move_to_end(key)
        out.append(_MEMO[key])
    return out


def preload(items: Sequence[tuple[str, str, str]], limits: boundary.Limits | None = None) -> None:
    """Read (path, text, version) modules ahead, all in one pass behind the boundary, so the
    ``load_modules`` calls that ask for them later (in any grouping: a run's conftest modules,
    then its templates' Rego) start no worker of their own; each such pass forks the gate's
    process. Nothing is reported here: a module that cannot be read is read again, and its error
    raised, by the ``load_modules`` call that asks for it, in that call's order."""
    missing = list(dict.fromkeys(k for k in items if k not in _MEMO))
    if len(missing) < 2:
        return  # one module (or none) costs the same pass later
    try:
        loaded = boundary.run(len(missing), lambda i, _: _read_bounded(*missing[i]),
                              lambda i, _: f"{missing[i][0]}: reading the Rego module", limits or boundary.Limits())
    except boundary.BoundaryError:
        return
    for key, module in zip(missing, loaded, strict=True):
        if isinstance(module, Module):
            _MEMO[key] = module
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)


def _read_bounded(path: str, text: str, version: str) -> Module | str:
    """(In a worker) the module, or the reason it cannot be loaded; the rewritten source is also
    parsed, as compiling it will be in the gate's process."""
    try:
        module = read_module(path, text, version)
        native.parse(module.path, module.source, module.v0)
    except PolicyLoadError as exc:
        return str(exc)
    except native.NativeError as exc:
        return exc.where()
    return module


def read_module(path: str, text: str, version: str = "auto") -> Module:
    """Read a module and produce the text to load, in this process and without any limit: call it
    only inside a worker (``load_module`` does); PolicyLoadError when it cannot be loaded."""
    if version not in REGO_VERSIONS:
        raise PolicyLoadError(f"unknown rego version {version!r} (expected auto, v0 or v1)")
    try:
        found = detect_version(text) if version == "auto" else version
        prepared = prepare(text)
    except TokenError as exc:
        raise PolicyLoadError(f"{path}:{exc.line}: {str(exc).split(': ', 1)[-1]}") from None
    try:
        ast = native.parse(path, prepared, found == "v0")
    except native.NativeError as exc:
        raise PolicyLoadError(_explain(exc, found, version)) from None
    src = prepared.encode("utf-8")
    info = outline(ast, src)
    if not info.package:
        raise PolicyLoadError(f"{path}:1: no package declaration")
    source = hoist_negations(prepared, ast, frozenset(info.rules | set(info.imports)))
    return Module(path, text, source, found, info.package, set(info.rules), set(info.functions),
                  set(info.imports), dict(info.calls), dict(info.lines), info)


def _explain(exc: native.NativeError, found: str, asked: str) -> str:
    message = exc.where()
    if found == "v1" and "`if` keyword is required" in exc.message:
        hint = "load it with rego version v0 or auto" if asked == "v1" else "it mixes v0 and v1 rule heads"
        message += f" (the module uses Rego v0 rule heads; {hint})"
    return message


def check_builtins(modules: Iterable[Module], is_builtin: Callable[[str], bool]) -> None:
    """Refuse a policy set that calls a function that is neither defined, imported nor a builtin
    (regorus would only fail when the call is reached, or not at all for an offline builtin)."""
    modules = list(modules)
    defined = {f for m in modules for f in m.functions}
    for module in modules:
        for name, line in module.calls.items():
            root = name.split(".", 1)[0]
            if name in defined or root in module.imports or root == "data":
                continue
            if not is_builtin(name):
                raise PolicyLoadError(
                    f"{module.path}:{line}: calls {name}(), which the embedded Rego engine does not provide; "
                    "rewrite the policy without it or evaluate it on an OPA server (--opa-url)")


def check_recursion(modules: Iterable[Module]) -> None:
    """Refuse recursion between rules or functions, as OPA's compiler does."""
    modules = list(modules)
    cycle = find_cycle(m.outline for m in modules)
    if cycle is None:
        return
    first_pkg, first = cycle[0]
    where = next((m for m in modules if m.package == first_pkg and first in m.rules), modules[0])
    chain = " -> ".join(name for _, name in cycle)
    raise PolicyLoadError(f"{where.path}:{where.lines.get(first, 1)}: rule {first} is recursive ({chain}); "
                          "Rego does not allow recursion")
