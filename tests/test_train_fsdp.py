"""FSDP under ``accelerate launch`` on two CPU processes (gloo): the weights DDP gives, and resume after SIGKILL.

accelerate 1.15 never selects FSDP on a CPU-only machine; ``tests/fsdp_cpu_launch.py`` switches it on, so the
trainer runs through accelerate's real FSDP preparation (sharded weights, gathered checkpoints and model).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_train_component import split_table
from train_helpers import kill_after_checkpoint

ROOT = Path(__file__).resolve().parent.parent
ACCELERATE = [str(Path(sys.executable).with_name("accelerate")), "launch", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"]
FSDP = ["--use_fsdp", "--fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP",
        "--fsdp_transformer_layer_cls_to_wrap", "LlamaDecoderLayer", "--fsdp_state_dict_type", "FULL_STATE_DICT",
        "--fsdp_use_orig_params", "true", "--fsdp_cpu_ram_efficient_loading", "false",
        "--fsdp_sync_module_states", "false"]  # every process loads the same weights; syncing them needs a GPU
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def command(mode: str, data: Path, out: Path, options: dict) -> list[str]:
    """``accelerate launch`` of the trainer with DDP (``ddp``) or FSDP (``fsdp1``, ``fsdp2``)."""
    if mode == "ddp":
        how = ["--multi_gpu", "-m", "workbench.training.launch"]
    else:
        how = [*FSDP, "--fsdp_version", mode[-1], str(ROOT / "tests" / "fsdp_cpu_launch.py")]
    return [*ACCELERATE, *how, str(data), str(out), "--options", json.dumps(options), "--validation", "0.25"]


def launch(mode: str, data: Path, out: Path, options: dict) -> list[dict]:
    done = subprocess.run(command(mode, data, out, options), env=ENV, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads((out / f"result-rank{r}.json").read_text()) for r in (0, 1)]


def max_difference(a: Path, b: Path) -> float:
    from safetensors.torch import load_file

    wa, wb = load_file(a / "model" / "model.safetensors"), load_file(b / "model" / "model.safetensors")
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"messages": r["messages"]}) + "\n" for r in split_table(16, 0).to_dicts()))
    return path


@pytest.mark.slow
def test_fsdp1_full_finetuning_gives_the_weights_ddp_gives(tiny_model_dir, data, tmp_path):
    options = {"model": str(tiny_model_dir), "method": "full", "batch_size": 2, "max_steps": 3,
               "warmup_probe_steps": 0, "checkpoint_every": 0}
    fsdp = launch("fsdp1", data, tmp_path / "fsdp", options)
    assert [r["distributed"] for r in fsdp] == ["FSDP", "FSDP"] and [r["steps"] for r in fsdp] == [3, 3]
    assert fsdp[0]["weights_sha256"] == fsdp[1]["weights_sha256"]
    assert launch("ddp", data, tmp_path / "ddp", options)[0]["distributed"] == "MULTI_CPU"
    assert max_difference(tmp_path / "fsdp", tmp_path / "ddp") < 1e-5


@pytest.mark.slow
def test_fsdp2_lora_resumes_after_sigkill_and_ends_where_ddp_ends(tiny_model_dir, data, tmp_path):
    options = {"model": str(tiny_model_dir), "method": "lora", "batch_size": 2, "max_steps": 30, "eval_every": 5,
               "warmup_probe_steps": 0, "checkpoint_every": 2, "keep_checkpoints": 2}
    out = tmp_path / "fsdp"
    proc = subprocess.Popen(command("fsdp2", data, out, options), env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    killed_at = kill_after_checkpoint(proc, out / "checkpoints", 4)
    assert not (out / "result-rank0.json").exists()
    fsdp = launch("fsdp2", data, out, options)
    assert [r["distributed"] for r in fsdp] == ["FSDP", "FSDP"] and [r["steps"] for r in fsdp] == [30, 30]
    assert fsdp[0]["resumed_from_step"] >= killed_at
    assert fsdp[0]["weights_sha256"] == fsdp[1]["weights_sha256"]
    launch("ddp", data, tmp_path / "ddp", options)
    assert max_difference(out, tmp_path / "ddp") < 1e-5  # checkpoints keep weights, optimiser and schedule whole
