"""What ``workbench serve`` can serve: the embedded model, model and adapter folders, a run's trained model."""

from __future__ import annotations

import pytest

from workbench.runtime import store


def test_served_model_names_and_references(tmp_path, tiny_model_dir):
    from workbench.errors import WorkbenchError
    from workbench.feedback.models import served_model

    assert served_model("smollm2") == ("smollm2", "smollm2")
    assert served_model(f"base={tiny_model_dir}") == ("base", str(tiny_model_dir.resolve()))
    run = tmp_path / "round1"
    for index, (kind, artifacts) in enumerate([("load", {}), ("train", {"model": "model"}), ("evaluate", {})], 1):
        step = run / "steps" / f"0{index}-{kind}-x"
        step.mkdir(parents=True)
        store.write_json(step / "manifest.json", {"kind": kind, "artifacts": artifacts})
    (run / "steps" / "02-train-x" / "model").mkdir()
    store.write_json(run / "run.json", {"name": "round1"})
    assert served_model(str(run)) == ("round1", str(run / "steps" / "02-train-x" / "model"))
    empty = tmp_path / "empty-run"
    empty.mkdir()
    store.write_json(empty / "run.json", {"name": "empty-run"})
    with pytest.raises(WorkbenchError, match="no finished step with a local model"):
        served_model(str(empty))
    with pytest.raises(WorkbenchError, match="not 'smollm2', a model folder"):
        served_model(str(tmp_path / "nothing"))
