"""CEL's conformance suite against the gate's engine and the three Python CEL runtimes compared for it.

The suite is cel-spec's ``tests/simple/testdata`` as the npm package ``@bufbuild/cel-spec`` ships
it (test data only, not part of this repository). Fetch and dump it once::

    npm pack @bufbuild/cel-spec && tar xzf bufbuild-cel-spec-*.tgz
    node -e "console.log(JSON.stringify(require('./package/dist/cjs/testdata/conformance.js').tests))" \\
        > conformance.json
    python bench/cel_conformance.py conformance.json gatekeeper expr rust py [-v]

Engines: ``gatekeeper`` (gatekeeper.cel), ``expr`` (cel-expr-python with its C++ extensions),
``rust`` (common-expression-language), ``py`` (cel-python); the last three are installed by hand.
Protobuf-message tests (proto2/proto3 suites, wrappers, enums, ``container``) are skipped:
Kubernetes objects are JSON. For ``gatekeeper``, unchecked tests (``disableCheck``: Kubernetes
always type-checks) and libraries the API server does not offer are skipped too. A test that
expects an error passes on any error.
"""

from __future__ import annotations

import base64
import collections
import json
import math
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

PROTO_MARKERS = ("TestAllTypes", "google.protobuf", "proto2", "proto3", "NestedMessage", "GlobalEnum", "NestedEnum")
PROTO_SUITES = {"dynamic", "enums", "proto2", "proto2_ext", "proto3", "wrappers", "unknowns", "block_ext"}
NOT_KUBERNETES = {"bindings_ext", "encoders_ext", "math_ext"}
TYPE_NAMES = {"null": "null_type", "nonetype": "null_type", "listtype": "list", "maptype": "map", "inttype": "int",
              "uinttype": "uint", "doubletype": "double", "booltype": "bool", "stringtype": "string",
              "bytestype": "bytes", "typetype": "type"}
Tagged = tuple[str, Any]


class Timeout(Exception):
    """One test ran over its time."""


class Skip(Exception):
    """The engine does not take this test (see the module doc)."""


def conv(v: dict[str, Any]) -> Tagged:
    """A conformance Value (protobuf JSON) as (type tag, Python value)."""
    if "boolValue" in v:
        return ("bool", v["boolValue"])
    if "int64Value" in v:
        return ("int", int(v["int64Value"]))
    if "uint64Value" in v:
        return ("uint", int(v["uint64Value"]))
    if "doubleValue" in v:
        d = v["doubleValue"]
        if isinstance(d, str):
            d = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(d, d)
        return ("double", float(d))
    if "stringValue" in v:
        return ("string", v["stringValue"])
    if "bytesValue" in v:
        return ("bytes", base64.b64decode(v["bytesValue"]))
    if "nullValue" in v or not v:
        return ("null", None)
    if "listValue" in v:
        return ("list", [conv(x) for x in v["listValue"].get("values", [])])
    if "mapValue" in v:
        return ("map", [(conv(e["key"]), conv(e["value"])) for e in v["mapValue"].get("entries", [])])
    if "typeValue" in v:
        return ("type", v["typeValue"])
    raise KeyError(list(v))


def plain(t: Tagged) -> Any:
    tag, x = t
    if tag == "list":
        return [plain(i) for i in x]
    if tag == "map":
        return {plain(k): plain(val) for k, val in x}
    return x


def eq(exp: Tagged, got: Tagged) -> bool:
    """Expected vs got; a ``num`` tag (an engine that cannot tell int from uint) matches either."""
    et, ev = exp
    gt, gv = got
    if et == "list":
        return gt == "list" and len(ev) == len(gv) and all(eq(a, b) for a, b in zip(ev, gv, strict=True))
    if et == "map":
        if gt != "map" or len(ev) != len(gv):
            return False
        gm = {repr(plain(k)): v for k, v in gv}
        return all(repr(plain(k)) in gm and eq(v, gm[repr(plain(k))]) for k, v in ev)
    if et in ("int", "uint"):
        return gt in (et, "num") and gv == ev
    if et == "double":
        return gt == "double" and (gv == ev or (math.isnan(ev) and math.isnan(gv)))
    if et == "type":
        name = str(gv).split("<")[0].split(".")[-1].lower()
        return gt == "type" and TYPE_NAMES.get(name, name) == ev.split(".")[-1].lower()
    return gt == et and gv == ev


def tests(data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for suite in data["suites"]:
        for sec in suite.get("suites", []):
            for t in sec.get("tests", []):
                yield suite["name"], sec["name"], t["original"]


def proto_test(suite: str, o: dict[str, Any]) -> bool:
    if suite in PROTO_SUITES or o.get("container") or any(m in o["expr"] for m in PROTO_MARKERS):
        return True
    v = o.get("value", {})
    if "objectValue" in v or "enumValue" in v:
        return True
    return any("messageType" in json.dumps(d) for d in o.get("typeEnv", [])) or \
        any("objectValue" in json.dumps(b) for b in o.get("bindings", {}).values())


def tag_py(x: Any) -> Tagged:
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, int):
        return ("num", x)
    if isinstance(x, float):
        return ("double", x)
    if isinstance(x, str):
        return ("string", x)
    if isinstance(x, (bytes, bytearray)):
        return ("bytes", bytes(x))
    if x is None:
        return ("null", None)
    if isinstance(x, (list, tuple)):
        return ("list", [tag_py(i) for i in x])
    if isinstance(x, dict):
        return ("map", [(tag_py(k), tag_py(v)) for k, v in x.items()])
    if type(x).__name__ == "Type" and hasattr(x, "name"):
        return ("type", x.name())
    return ("other", x)


class CelExpr:
    name = "cel-expr-python"

    def __init__(self) -> None:
        from cel_expr_python import cel
        from cel_expr_python.ext import ext_bindings, ext_encoders, ext_math, ext_optional, ext_strings

        self.cel = cel
        self.exts = [ext_optional.ExtOptional(), ext_strings.ExtStrings(), ext_math.ExtMath(),
                     ext_bindings.ExtBindings(), ext_encoders.ExtEncoders()]
        self.prims = {"INT64": cel.Type.INT, "UINT64": cel.Type.UINT, "BOOL": cel.Type.BOOL,
                      "STRING": cel.Type.STRING, "DOUBLE": cel.Type.DOUBLE, "BYTES": cel.Type.BYTES}

    def run(self, o: dict[str, Any], bindings: dict[str, Any]) -> Tagged:
        cel = self.cel
        variables = {d["name"]: self.prims.get(d.get("ident", {}).get("type", {}).get("primitive"), cel.Type.DYN)
                     for d in o.get("typeEnv", []) if "ident" in d}
        for k in bindings:
            variables.setdefault(k, cel.Type.DYN)
        env = cel.NewEnv(variables=variables, extensions=self.exts)
        return self.tag(env.compile(o["expr"], disable_check=bool(o.get("disableCheck"))).eval(data=bindings))

    def tag(self, r: Any) -> Tagged:
        n = r.type().name().lower()
        if n == "error":
            raise RuntimeError(str(r.value()))
        v = r.value()
        if n in ("int", "uint", "double", "bool", "string", "bytes"):
            return (n, v)
        if n in ("null_type", "null"):
            return ("null", None)
        if n.startswith("list"):
            return ("list", [self.tag(i) for i in v])
        if n.startswith("map"):
            return ("map", [(tag_py(k), self.tag(i)) for k, i in v.items()])
        if n == "type":
            return ("type", v.name() if hasattr(v, "name") else str(v))
        return ("other", (n, v))


class CelRust:
    name = "common-expression-language"

    def __init__(self) -> None:
        import cel
        from cel import stdlib

        self.m, self.stdlib = cel, stdlib

    def run(self, o: dict[str, Any], bindings: dict[str, Any]) -> Tagged:
        ctx = self.m.Context()
        self.stdlib.add_stdlib_to_context(ctx)
        for k, v in bindings.items():
            ctx.add_variable(k, v)
        return tag_py(self.m.compile(o["expr"]).execute(ctx))


class CelPy:
    name = "cel-python"

    def __init__(self) -> None:
        import celpy
        from celpy import celtypes

        self.celpy, self.ct = celpy, celtypes

    def run(self, o: dict[str, Any], bindings: dict[str, Any]) -> Tagged:
        env = self.celpy.Environment()
        prg = env.program(env.compile(o["expr"]))
        act = {k: self.ct.BytesType(v) if isinstance(v, bytes) else self.celpy.json_to_cel(v)
               for k, v in bindings.items()}
        return self.tag(prg.evaluate(act))

    def tag(self, x: Any) -> Tagged:
        ct = self.ct
        if isinstance(x, Exception) or type(x).__name__ == "CELEvalError":
            raise RuntimeError(str(x))
        for cls, name, cast in ((ct.BoolType, "bool", bool), (ct.UintType, "uint", int), (ct.IntType, "int", int),
                                (ct.DoubleType, "double", float), (ct.StringType, "string", str),
                                (ct.BytesType, "bytes", bytes)):
            if isinstance(x, cls):
                return (name, cast(x))
        if x is None or isinstance(x, ct.NullType):
            return ("null", None)
        if isinstance(x, ct.ListType):
            return ("list", [self.tag(i) for i in x])
        if isinstance(x, ct.MapType):
            return ("map", [(self.tag(k), self.tag(v)) for k, v in x.items()])
        if isinstance(x, (ct.TypeType, type)):
            return ("type", getattr(x, "__name__", str(x)))
        return ("other", x)


class Gatekeeper:
    name = "gatekeeper.cel"

    def __init__(self) -> None:
        from gatekeeper import cel

        self.cel = cel

    def run(self, o: dict[str, Any], bindings: dict[str, Any]) -> Tagged:
        if o.get("disableCheck"):
            raise Skip()
        names = {d["name"] for d in o.get("typeEnv", []) if "ident" in d} | set(bindings)
        value = self.cel.environment(tuple(sorted(names))).compile(o["expr"]).evaluate(bindings)
        return ("double", value) if isinstance(value, float) else tag_py(value)


def _alarm(*_args: Any) -> None:
    raise Timeout()


def run_engine(adapter: Any, data: dict[str, Any]) -> tuple[dict[str, list[int]], list[tuple[str, ...]]]:
    per: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])  # pass, fail, skip
    fails = []
    signal.signal(signal.SIGALRM, _alarm)
    for suite, sec, o in tests(data):
        if proto_test(suite, o) or o.get("checkOnly") or (isinstance(adapter, Gatekeeper) and suite in NOT_KUBERNETES):
            per[suite][2] += 1
            continue
        bindings = {k: plain(conv(b["value"])) for k, b in o.get("bindings", {}).items() if "value" in b}
        ok, why = False, ""
        signal.alarm(5)
        try:
            got = adapter.run(o, bindings)
            if "evalError" in o:
                why = f"expected error, got {got}"
            elif "value" in o:
                ok = eq(conv(o["value"]), got)
                why = f"want {conv(o['value'])} got {got}"
            else:
                ok = True
        except Timeout:
            why = "timeout"
        except Skip:
            per[suite][2] += 1
            continue
        except Exception as ex:
            ok = "evalError" in o
            why = f"{type(ex).__name__}: {str(ex)[:120]}"
        finally:
            signal.alarm(0)
        per[suite][0 if ok else 1] += 1
        if not ok:
            fails.append((suite, sec, o["name"], o["expr"][:80], why[:200]))
    return per, fails


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        data = json.load(fh)
    adapters = {"gatekeeper": Gatekeeper, "expr": CelExpr, "rust": CelRust, "py": CelPy}
    for which in (w for w in sys.argv[2:] if not w.startswith("-")):
        adapter = adapters[which]()
        start = time.time()
        per, fails = run_engine(adapter, data)
        passed, failed, skipped = (sum(v[i] for v in per.values()) for i in range(3))
        print(f"== {adapter.name}: pass {passed} fail {failed} skipped {skipped} "
              f"({passed / max(passed + failed, 1):.1%}) in {time.time() - start:.1f}s")
        for name, v in sorted(per.items()):
            if v[0] + v[1]:
                print(f"   {name:16} {v[0]:4} / {v[0] + v[1]:4}")
        if "-v" in sys.argv:
            for f in fails:
                print("   FAIL", " | ".join(f))


if __name__ == "__main__":
    main()
