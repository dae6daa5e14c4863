"""Language models: loading (``models``), devices, generation and batched decoding, the
embedded SmolLM2 and MiniLM (``embedded``) and tiny models for tests (``tiny``).

torch and transformers are imported inside functions: importing this package is cheap.
"""
