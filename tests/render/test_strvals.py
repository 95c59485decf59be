"""Helm's --set syntax (strvals) as Helm parses it: typing, lists, index paths, escapes and errors."""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper.sources.render import strvals

CASES: list[tuple[str, dict[str, Any]]] = [
    ("name1=null,f=false,t=true", {"name1": None, "f": False, "t": True}),
    ("a=TRUE,b=False,c=NULL", {"a": True, "b": False, "c": None}),
    ("a=fal\u017fe", {"a": False}),  # Go's EqualFold: the long s folds to s
    ("zero=0,n=1234567890,neg=-5,plus=+7", {"zero": 0, "n": 1234567890, "neg": -5, "plus": 7}),
    ("lead=00009,big=9223372036854775808,under=1_000,f=1.5", {"lead": "00009", "big": "9223372036854775808",
                                                               "under": "1_000", "f": "1.5"}),
    ("name1=,name2=value2", {"name1": "", "name2": "value2"}),
    ("name1=value1,name2=value2,", {"name1": "value1", "name2": "value2"}),
    ("name1=one\\,two,name2=three\\=four", {"name1": "one,two", "name2": "three=four"}),
    ("a\\.b=1", {"a.b": 1}),
    ("outer.inner1=value,outer.middle.inner=v", {"outer": {"inner1": "value", "middle": {"inner": "v"}}}),
    ("name1.name2=", {"name1": {"name2": ""}}),
    ("name1={value1,value2},n={1021,902}", {"name1": ["value1", "value2"], "n": [1021, 902]}),
    ("e={}", {"e": [""]}),
    ("list[0]=foo,list[3]=bar", {"list": ["foo", None, None, "bar"]}),
    ("list[0].foo=bar,list[0].hello=world", {"list": [{"foo": "bar", "hello": "world"}]}),
    ("noval[0]", {"noval": []}),
    ("noval[0]=", {"noval": [""]}),
    ("nested[1][1]=1", {"nested": [None, [None, 1]]}),
    ("n.l[1].foo=bar,n.l[0].foo=bar", {"n": {"l": [{"foo": "bar"}, {"foo": "bar"}]}}),
]

ERRORS = ["name1=value1,,,,name2=value2,", "name1,name2=value2", "name1,name2", "name1.name2", "name1.=name2",
          "name1={1021,902", "list[0].foo=bar,list[-30].hello=world", "illegal[0]name.foo=bar", "]={}].",
          "a[x]=1", "a[70000]=1", ".".join(["k"] * 32) + "=1"]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_lines_parse_as_helm_parses_them(line: str, expected: dict[str, Any]) -> None:
    got: dict[str, Any] = {}
    strvals.parse_into(line, got)
    assert got == expected


@pytest.mark.parametrize("line", ERRORS)
def test_lines_helm_refuses_are_errors(line: str) -> None:
    with pytest.raises(strvals.StrvalsError):
        strvals.parse_into(line, {})


def test_parse_into_merges_into_existing_values_and_refuses_type_clashes() -> None:
    values: dict[str, Any] = {"outer": {"inner1": "old", "inner2": "kept"}, "ports": [80, 443], "name": "x"}
    strvals.parse_into("outer.inner1=1,outer.inner3=3,ports[1]=8443", values)
    assert values == {"outer": {"inner1": 1, "inner2": "kept", "inner3": 3}, "ports": [80, 8443], "name": "x"}
    strvals.parse_into("outer.inner1=1", values, force_string=True)
    assert values["outer"]["inner1"] == "1"
    with pytest.raises(strvals.StrvalsError):
        strvals.parse_into("name.sub=1", values)  # name holds a string, not a map
    with pytest.raises(strvals.StrvalsError):
        strvals.parse_into("outer[0]=1", values)  # outer holds a map, not a list


def test_argo_cd_escapes_commas_unless_the_value_is_a_list() -> None:
    assert strvals.argocd_line("a", "x,y") == "a=x\\,y"
    assert strvals.argocd_line("a", "x\\,y") == "a=x\\,y"
    assert strvals.argocd_line("a", "{x,y}") == "a={x,y}"
    got: dict[str, Any] = {}
    strvals.parse_into(strvals.argocd_line("a", "x,y"), got)
    assert got == {"a": "x,y"}


def test_flux_target_path_types_values_and_keeps_quoted_ones_strings() -> None:
    got: dict[str, Any] = {}
    strvals.flux_target("security.safe", "false", got)
    strvals.flux_target("replicas", "'3'", got)
    strvals.flux_target("tags[1]", '"true"', got)
    assert got == {"security": {"safe": False}, "replicas": "3", "tags": [None, "true"]}
