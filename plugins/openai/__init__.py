"""Built-in plugin: the OpenAI fine-tuning trainer (component ``openai``)."""

from __future__ import annotations

from workbench.hookspecs import hookimpl


@hookimpl
def register_trainers(register):
    from workbench.plugins.openai.trainer import OpenAITrainer

    register(OpenAITrainer)
