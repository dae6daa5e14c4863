"""A local OpenAI-compatible server: files, fine-tuning jobs that really train, chat completions.

It speaks the subset of OpenAI's API that Workbench's OpenAI trainer and
evaluation use, so the whole path (upload, job, events, model id, chat
completions) runs against local hardware through the official SDK. Tests
start it in a thread (:class:`OpenAIServer`); ``workbench serve-openai`` runs
it in the foreground.
"""

from workbench.openai_server.app import OpenAIServer

__all__ = ["OpenAIServer"]
