"""Local fine-tuning: chat rendering with loss masks, batching, the loop.

The trainer components in ``plugins/trainers`` are thin: they turn options
into a :class:`~workbench.training.loop.TrainJob` and call
:func:`~workbench.training.loop.train`. Everything here imports torch,
transformers and peft inside functions, so importing the package is cheap.
"""
