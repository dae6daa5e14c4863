"""``python tests/fsdp_cpu_launch.py ARGS`` = ``python -m workbench.training.launch ARGS`` with FSDP honoured on CPU.

accelerate 1.15 turns ``--use_fsdp`` into FSDP only on GPU-like devices: in
``AcceleratorState.__init__`` the switch to FSDP sits in the branch for
MULTI_GPU/NPU/XPU/..., so a CPU-only launch stays MULTI_CPU and silently runs
DDP. torch 2.13 itself runs FSDP (1 and 2) on CPU over gloo, so this shim
sets the state to FSDP after accelerate built it, as accelerate does on GPUs,
and the trainer goes through accelerate's real FSDP preparation. It also
names the device ``cpu`` (accelerate says ``cpu:<rank>``, which FSDP1 rejects
against parameters on ``cpu``: on GPUs both are ``cuda:<rank>``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from accelerate import state
from accelerate.utils import DistributedType

_init = state.AcceleratorState.__init__


def _fsdp_on_cpu(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    plugin = kwargs.get("fsdp_plugin")
    if self.distributed_type == DistributedType.MULTI_CPU and plugin is not None:
        self.distributed_type = DistributedType.FSDP
        self.fsdp_plugin = plugin
        self.device = torch.device("cpu")
        state.PartialState._shared_state["distributed_type"] = DistributedType.FSDP  # later states read it there


if __name__ == "__main__":
    state.AcceleratorState.__init__ = _fsdp_on_cpu
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from workbench.training.launch import main

    raise SystemExit(main(sys.argv[1:]))
