"""The app's chart specs: the county map sends its geometry by URL when Streamlit serves the
static folder (./run, from the repository), and inline when it does not."""
from __future__ import annotations

import pandas as pd
import pytest
from streamlit import config

from workbench.app import chart_specs
from workbench.charts import county_map


@pytest.fixture
def static_serving():
    before = config.get_option("server.enableStaticServing")

    def set_to(value: bool) -> None:
        config.set_option("server.enableStaticServing", value)
        chart_specs.map_spec.clear()

    yield set_to
    set_to(before)


def _spec():
    values = pd.DataFrame({"fips": ["01001", "27053"], "cluster": ["cluster 0", "cluster 1"]})
    return chart_specs.map_spec(values, "cluster", "nominal", (), "2 clusters", ("cluster 0", "cluster 1"))


def test_the_map_names_its_geometry_by_url_with_static_serving(static_serving):
    static_serving(True)
    text = str(_spec())
    assert county_map.GEOMETRY_URL in text and '"arcs"' not in text.replace("'", '"')


def test_the_map_carries_its_geometry_without_static_serving(static_serving):
    static_serving(False)
    spec = _spec()
    assert county_map.GEOMETRY_URL not in str(spec)
    assert any(isinstance(v, dict) and v.get("type") == "Topology" for v in spec.get("datasets", {}).values())
