"""One property, two budgets: a fixed one in the default suite (CI) and a deep ``slow`` one for
release checks (``python -m pytest -m slow``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

Property = Callable[[st.DataObject], None]


def budgets(prop: Property, default: int, deep: int) -> tuple[Callable[..., None], Callable[..., None]]:
    """(default-budget test, deep test) running ``prop`` on hypothesis' interactive data."""

    @settings(max_examples=default, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fixed(data: st.DataObject) -> None:
        prop(data)

    @pytest.mark.slow
    @settings(max_examples=deep, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def deeper(data: st.DataObject) -> None:
        prop(data)

    return fixed, deeper
