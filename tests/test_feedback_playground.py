"""AppTest of the Playground: two models side by side, streamed answers logged, feedback and preference stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.ui_support import keys

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_two_models_stream_and_feedback_is_stored(tmp_path, tiny_model_dir):
    from workbench.feedback.store import FeedbackStore

    runs = tmp_path / "runs"
    at = AppTest.from_file(str(ROOT / "pages" / "playground.py"), default_timeout=120)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.run()
    assert not at.exception and "Give your name" in at.info[0].value
    at.text_input(key="pg_extra_model").set_value(str(tiny_model_dir))
    at.text_input(key=keys.TESTER).set_value("ana").run()
    at.multiselect(key="pg_models").set_value([tiny_model_dir.name]).run()
    assert not at.exception
    at.chat_input(key="pg_prompt").set_value("Write to me at ana@example.com <b>now</b>").run()
    assert not at.exception, at.exception
    store = FeedbackStore(runs / "feedback.sqlite")
    (exchange,) = store.exchanges()
    assert exchange["tester"] == "ana" and exchange["model"] == tiny_model_dir.name
    assert exchange["messages"] == [{"role": "user", "content": "Write to me at [EMAIL] <b>now</b>"}]
    assert any("<b>now</b>" in t.value for t in at.text)  # shown as text, not markup

    at.button(key=f"pg_up_{tiny_model_dir.name}").click().run()
    at.text_area(key=f"pg_fix_{tiny_model_dir.name}").set_value("Sure, I will write to you.")
    at.button(key=f"pg_save_{tiny_model_dir.name}").click().run()
    assert not at.exception
    kinds = [(f["kind"], f["rating"], f["scale"]) for f in store.feedback()]
    assert kinds == [("rating", 1, "thumbs"), ("rating", 3, "1-5"), ("correction", None, None)]
    assert all(f["tester"] == "ana" for f in store.feedback())

    # a second turn keeps the context: the model gets the whole conversation
    at.chat_input(key="pg_prompt").set_value("And tomorrow?").run()
    assert not at.exception
    second = store.exchanges()[-1]
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]


def test_side_by_side_preference(tmp_path, tiny_model_dir):
    from workbench.feedback.store import FeedbackStore
    from workbench.lm.tiny import tiny_causal_lm

    runs = tmp_path / "runs"
    other = tiny_causal_lm(tmp_path / "other", seed=1)  # other weights: other sampled answers
    at = AppTest.from_file(str(ROOT / "pages" / "playground.py"), default_timeout=120)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.session_state[keys.TESTER] = "ben"
    at.run()
    at.slider(key="pg_temperature").set_value(1.0)  # a tiny random model's greedy answer is empty
    at.text_input(key="pg_extra_model").set_value(f"a={tiny_model_dir}, b={other}").run()
    at.multiselect(key="pg_models").set_value(["a", "b"]).run()
    at.chat_input(key="pg_prompt").set_value("Hello").run()
    assert not at.exception
    store = FeedbackStore(runs / "feedback.sqlite")
    by_model = {e["model"]: e["id"] for e in store.exchanges()}
    assert set(by_model) == {"a", "b"}
    at.radio(key="pg_better").set_value("b").run()
    at.button(key="pg_prefer").click().run()
    assert not at.exception and "b preferred over a" in at.success[0].value
    (pref,) = store.feedback()
    assert (pref["kind"], pref["exchange_id"], pref["other_id"], pref["tester"]) == ("preference", by_model["b"],
                                                                                     by_model["a"], "ben")
    # the second turn's histories differ (each model's own answer): no preference is offered
    at.chat_input(key="pg_prompt").set_value("And then?").run()
    assert not at.exception and not [r for r in at.radio if r.key == "pg_better"]
