"""Property tests: no input makes the loader or the pipeline raise; positions stay in the file."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper.pipeline import Run, execute
from gatekeeper.sources.files import SourceFile
from gatekeeper.sources.resources import extract
from gatekeeper.sources.yamlload import parse

YAMLISH = st.text(alphabet=st.sampled_from(list("ab:- \n\t{}[]&*!|>'\"#%@`,?0123456789\\\ufeff\r")), max_size=200)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), YAMLISH.map(str.encode)))
def test_parse_never_raises_and_locates_inside_the_file(data: bytes) -> None:
    parsed = parse(SourceFile("f.yaml", data))
    lines = len(data.decode("utf-8", "replace").splitlines()) + 1  # YAML also breaks lines at CR, NEL, LS, PS
    for finding in parsed.findings:
        assert 1 <= finding.line <= lines + 1
    for doc in parsed.documents:
        for f in extract(doc):
            assert 1 <= f.line <= lines + 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_every_dumped_value_round_trips_with_positions(value: object) -> None:
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": value})
    parsed = parse(SourceFile("cm.yaml", text.encode()))
    assert parsed.findings == []
    (doc,) = parsed.documents
    assert doc.obj["data"] == value
    if isinstance(value, dict):
        for key in value:
            line, _ = doc.locate(("data", key))
            assert key in text.splitlines()[line - 1] or "'" in text or '"' in text or "\\" in text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["a.yaml", "b/c.yml", "d.json"]), YAMLISH), max_size=4))
def test_pipeline_never_raises(tmp_path: Path, files: list[tuple[str, str]]) -> None:
    sources = [SourceFile(name, text.encode()) for name, text in files]
    report = execute(Run(root=tmp_path, files=sources, checks=["schema"], allow_empty=True))
    assert report.errors == []
    assert report.exit_code in (0, 1)
