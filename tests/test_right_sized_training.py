"""Right-sized training by default: epochs from the set's size, validation cadence, early stopping that
restores the best weights, and the thread count chosen from what is running now."""

from __future__ import annotations

import json

import pytest

from workbench.lm.device import busy_cores, threads_for
from workbench.training.sizing import choose_epochs, validation_interval


@pytest.mark.parametrize(("examples", "epochs"), [
    (1, 25), (33, 4), (34, 3), (50, 3), (100, 3), (8_333, 3), (8_334, 2), (10_000, 2), (100_000, 1),
    (2, 25), (4, 25), (5, 20), (6, 17), (30, 4), (12_500, 2), (12_501, 1),
])
def test_epochs_follow_openais_rule_on_edge_sizes(examples, epochs):
    chosen, reason = choose_epochs(examples, None)
    assert chosen == epochs and reason.startswith(f"auto: {epochs} epoch")
    assert 1 <= chosen <= 25


def test_examples_seen_stay_within_the_rule_where_the_epoch_bounds_allow():
    for n in list(range(1, 400)) + [8_000, 8_333, 8_334, 9_000, 12_500, 12_501, 25_000, 30_000]:
        epochs, _ = choose_epochs(n, None)
        seen = n * epochs
        if 4 <= n <= 25_000:  # 1-3 examples cannot reach 100 within 25 epochs; above 25,000 one epoch is the floor
            assert 100 <= seen or epochs == 25
            assert seen <= 25_000 or epochs == 1


def test_an_explicit_choice_wins_and_the_reason_says_why():
    assert choose_epochs(50, 2.0) == (2.0, "epochs = 2 set in the options")
    epochs, reason = choose_epochs(50, None, max_steps=7)
    assert epochs is None and "max_steps = 7" in reason
    assert "few" in choose_epochs(10, None)[1] and "many" in choose_epochs(20_000, None)[1]
    assert "the target" in choose_epochs(300, None)[1]


def test_validation_runs_at_least_four_times_per_epoch_unless_set():
    assert validation_interval(0, 112) == 28
    assert validation_interval(0, 3) == 1 and validation_interval(0, 1) == 1
    assert validation_interval(5, 112) == 5


@pytest.mark.parametrize(("cores", "busy", "threads"), [
    (2, 0.0, 2), (2, 0.3, 2), (2, 0.49, 2), (2, 0.6, 1), (2, 1.4, 1), (2, 3.0, 1), (2, 12.0, 1),
    (8, 2.2, 6), (8, 0.0, 8), (1, 0.0, 1),
])
def test_threads_take_every_core_on_an_idle_machine_and_leave_busy_ones(cores, busy, threads):
    assert threads_for(cores, busy) == threads


def test_busy_cores_are_read_from_a_short_proc_stat_probe(tmp_path, monkeypatch):
    import os
    import time

    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal: 100 jiffies pass, 50 of them busy (iowait counts as idle,
    # and so does nice time: low-priority processes yield their cores to the main job)
    stat.write_text("cpu  1000 0 200 5000 100 0 0 0 0 0\ncpu0 1 2 3 4\n")

    def tick(_seconds):
        stat.write_text("cpu  1040 30 210 5010 110 0 0 0 0 0\ncpu0 1 2 3 4\n")

    monkeypatch.setattr(time, "sleep", tick)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert busy_cores(stat=stat) == pytest.approx(1.0)  # half of 2 CPUs
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 1.0, 0.5))
    assert busy_cores(stat=tmp_path / "missing") == 1.5  # not Linux: the 1-minute load average


def planted_rows(answer: str, n: int, start: int = 0) -> list[dict]:
    return [{"id": f"{answer}{i}", "messages": [{"role": "user", "content": f"Question {i}: which word?"},
                                                {"role": "assistant", "content": " ".join([answer] * 8)}]}
            for i in range(start, start + n)]


def test_the_best_weights_follow_the_lowest_loss_while_min_delta_decides_the_plateau():
    """Losses creeping down by under 1% each end the run, but the best step is the lowest loss."""
    from workbench.training.runner import LoopState

    state = LoopState()
    for step, val in enumerate([0.5, 0.498, 0.497, 0.4955], start=1):
        state.step = step
        state.observe(val, min_delta=0.01, patience=3)
    assert state.stopped_early and state.bad_evals == 3
    assert (state.best_step, state.best_val) == (4, 0.4955)
    fresh = LoopState()  # a real improvement resets the plateau count
    for step, val in enumerate([0.5, 0.497, 0.3, 0.299], start=1):
        fresh.step = step
        fresh.observe(val, min_delta=0.01, patience=2)
    assert not fresh.stopped_early and fresh.bad_evals == 1 and fresh.best_step == 4


def test_min_delta_is_relative_so_a_small_loss_still_falling_fast_is_no_plateau():
    """The validation losses of a chat run that an absolute 0.01 stopped at step 300 while its held-out
    answers were still improving: each falls 10-25% below the last, so the relative rule goes on."""
    from workbench.training.runner import LoopState

    state = LoopState()
    for step, val in zip(range(210, 330, 30), [0.0247, 0.0213, 0.0163, 0.0147], strict=True):
        state.step = step
        state.observe(val, min_delta=0.01, patience=3)
        assert state.bad_evals == 0 and state.plateau_val == val
    assert not state.stopped_early and state.best_step == 300


def test_a_checkpoint_from_before_plateau_val_goes_on_counting_from_its_best_loss():
    """Such a checkpoint measured plateaus from ``best_val``: resumed, its count neither restarts nor jumps."""
    from workbench.training.runner import LoopState

    old = {"step": 3, "best_val": 0.0157, "best_step": 1, "bad_evals": 2}  # no plateau_val key
    state = LoopState.from_saved(old)
    assert state.plateau_val == 0.0157
    state.step = 4
    state.observe(0.0156, min_delta=0.01, patience=3)  # lower, but by less than 1%: the third bad one
    assert state.stopped_early and (state.best_step, state.best_val) == (4, 0.0156)
    assert LoopState.from_saved({**old, "plateau_val": 0.02}).plateau_val == 0.02


def test_dpo_stops_on_the_shared_plateau_rule():
    """``hf-dpo``'s TRL callback counts plateaus exactly as the shared loop does, relative ``min_delta`` included."""
    from transformers import TrainerControl, TrainerState

    from workbench.plugins.trainers.dpo import plateau_callback

    callback, control, state = plateau_callback(patience=2, min_delta=0.01), TrainerControl(), TrainerState()
    stops = []
    for step, loss in enumerate([0.0247, 0.0213, 0.0212, 0.0211], start=1):
        state.global_step = step
        stops.append(callback.on_evaluate(None, state, control, metrics={"eval_loss": loss}).should_training_stop)
    assert stops == [False, False, False, True]
    assert callback.plateau.best_step == 4


def test_early_stopping_restores_the_best_weights_when_validation_loss_rises(tiny_model_dir, tmp_path):
    """Validation asks for the word training unlearns: its loss rises as training goes on, so the run stops
    early and keeps the weights of the best validation, not the last."""
    from workbench.training.loop import TrainJob, loss_module, train
    from workbench.training.options import CausalLMOptions
    from workbench.training.runner import Runner

    opts = CausalLMOptions(model=str(tiny_model_dir), method="full", batch_size=4, learning_rate=3e-3,
                           scheduler="constant", warmup_steps=0, warmup_probe_steps=0, checkpoint_every=0,
                           eval_every=1, early_stopping_patience=2, early_stopping_min_delta=0.0, max_steps=30)
    val = planted_rows("blue", 4, 100)
    result = train(TrainJob(opts, planted_rows("red", 16), val, tmp_path / "out", log=lambda _m: None))
    stats = result.stats
    vals = [h["val_loss"] for h in json.loads((tmp_path / "out" / "history.json").read_text())]
    assert stats["stopped_early"] and stats["stopped_early_at_step"] == stats["steps"] < 30
    assert stats["best_step"] < stats["steps"] and vals[-1] > stats["best_val_loss"]
    assert stats["epochs_chosen"] is None and "max_steps" in stats["epochs_reason"] and stats["threads"] >= 1

    class Score(Runner):  # the restored model's validation loss, computed afresh
        def __init__(self, model, tokenizer, examples):
            super().__init__(opts, tmp_path / "score", seed=0, log=lambda _m: None)
            self.val_ex, self.tokenizer, self.train_ex = examples, tokenizer, examples
            self.setup(model, loss_module(model), [{"params": list(model.parameters())}], "length-grouped")

        def collate(self, examples):
            from workbench.training.batching import collate
            return collate(examples, self.tokenizer.pad_token_id, None)

    from workbench.lm.models import load_causal_lm
    from workbench.training.chat import build_examples

    model, tok = load_causal_lm(str(tmp_path / "out" / "model"), padding_side="right")
    examples, _ = build_examples(tok, val, opts.max_length)
    assert Score(model, tok, examples).evaluate() == pytest.approx(stats["best_val_loss"], rel=1e-4)


def test_default_run_chooses_epochs_and_validates_four_times_per_epoch(tiny_model_dir, tmp_path):
    from workbench.training.loop import TrainJob, train
    from workbench.training.options import CausalLMOptions

    opts = CausalLMOptions(model=str(tiny_model_dir), batch_size=4, warmup_probe_steps=0, checkpoint_every=0,
                           early_stopping_patience=0)
    rows = planted_rows("red", 50)
    result = train(TrainJob(opts, rows, planted_rows("red", 4, 100), tmp_path / "out", log=lambda _m: None))
    stats = result.stats
    assert stats["epochs_chosen"] == 3 and stats["epochs_reason"].startswith("auto: 3 epochs")
    assert stats["steps"] == 3 * 13 and stats["eval_every"] == 3  # 13 batches of 4 per epoch
    assert stats["stopped_early_at_step"] is None and stats["threads"] >= 1


def test_the_component_counts_every_training_row_augmented_or_not(tiny_model_dir, tmp_path):
    import polars as pl

    from workbench.plugins.trainers.causal_lm import CausalLMTrainer
    from workbench.testing import run_component

    rows = planted_rows("red", 30)
    table = pl.DataFrame({"id": [f"r{i}" for i in range(30)], "source_id": [f"r{i % 15}" for i in range(30)],
                          "messages": [r["messages"] for r in rows], "split": ["train"] * 30})
    result = run_component(CausalLMTrainer, table, model=str(tiny_model_dir), batch_size=8, warmup_probe_steps=0,
                           checkpoint_every=0, early_stopping_patience=0, merge=False)
    stats = result.stats
    assert stats["epochs_chosen"] == 4 and "30 examples are few: 120 examples seen" in stats["epochs_reason"]
    assert stats["steps"] == 16  # 4 epochs x 4 batches of 8, though the 30 rows derive from 15 conversations


def test_preflight_says_which_epochs_were_chosen_and_why(tiny_model_dir, tmp_path):
    from workbench.training.loop import TrainJob, estimate
    from workbench.training.options import CausalLMOptions
    from workbench.training.planning import preflight_figures
    from workbench.training.preflight import summary

    opts = CausalLMOptions(model=str(tiny_model_dir), batch_size=4, warmup_probe_steps=0)
    figures = estimate(TrainJob(opts, planted_rows("red", 10), planted_rows("red", 2, 100), tmp_path / "out",
                                log=lambda _m: None))
    assert figures["epochs_chosen"] == 10 and figures["optimizer_steps"] == 10 * 3  # 3 batches of 4 per epoch
    assert figures["eval_every"] == 1 and figures["threads"] >= 1
    line = summary(figures)
    assert "epochs: auto: 10 epochs, 10 examples are few: 100 examples seen" in line
    assert "stops after 3 validations without improvement" in line
    assert preflight_figures(figures)["epochs"] == figures["epochs_reason"]


def test_the_train_pages_rough_estimate_uses_the_same_rule():
    import polars as pl

    from workbench.training.planning import local_estimate

    table = pl.DataFrame({"messages": [r["messages"] for r in planted_rows("red", 10)], "split": ["train"] * 10})
    rough = local_estimate(table, {"batch_size": 4, "epochs": None})
    assert rough["optimizer_steps"] == 3 * 10 and rough["epochs_reason"].startswith("auto: 10 epochs")
    assert local_estimate(table, {"batch_size": 4, "epochs": 2})["optimizer_steps"] == 3 * 2


def test_augmented_rows_count_as_examples_as_openai_counts_the_lines_of_a_file():
    """Tripling the rows by augmentation leaves 3 epochs of the rows: the passes over each conversation triple."""
    assert choose_epochs(900, None)[0] == 3.0 and choose_epochs(892, None)[0] == 3.0  # the demo's train split
    assert choose_epochs(20, None)[0] == 5.0  # few rows: 100 examples seen
    assert choose_epochs(900, 2.0)[0] == 2.0  # the user's epochs win
