"""Built-in local trainers: a causal chat LM (LoRA/full/head) and an encoder classifier."""

from __future__ import annotations

from workbench.hookspecs import hookimpl


@hookimpl
def register_trainers(register):
    from workbench.plugins.trainers.causal_lm import CausalLMTrainer
    from workbench.plugins.trainers.classifier import ClassifierTrainer
    from workbench.plugins.trainers.dpo import DPOTrainer

    register(CausalLMTrainer)
    register(ClassifierTrainer)
    register(DPOTrainer)
