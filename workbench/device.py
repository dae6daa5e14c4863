"""Device and precision choice: CUDA with bf16 when present, else CPU fp32."""

from __future__ import annotations

from typing import Any


def pick_device(prefer: str = "auto") -> tuple[str, Any]:
    """Return ``(device, dtype)``; ``prefer`` is ``auto``, ``cuda`` or ``cpu``."""
    import torch

    if prefer in ("auto", "cuda") and torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return "cuda", dtype
    if prefer == "cuda":
        from workbench.errors import WorkbenchError

        raise WorkbenchError("device 'cuda' was requested but no CUDA GPU is available",
                             hint="use device = \"auto\" to fall back to the CPU")
    return "cpu", torch.float32
