"""AppTest of the Plugins page: plugins, components and generated option forms."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_lists_plugins_components_and_options():
    at = AppTest.from_file(str(ROOT / "pages" / "plugin_list.py"), default_timeout=60).run()
    assert not at.exception
    plugins = at.dataframe[0].value
    assert "workbench.plugins.cleaners" in set(plugins["plugin"]) and "builtin" in set(plugins["source"])
    at.selectbox(key="plugins_kind").set_value("trainer").run()
    assert set(at.dataframe[1].value["kind"]) == {"trainer"}
    at.selectbox(key="plugins_component").set_value("trainer/hf-causal-lm").run()
    assert not at.exception
    options = at.dataframe[2].value
    assert {"model", "method", "learning_rate"} <= set(options["option"])
