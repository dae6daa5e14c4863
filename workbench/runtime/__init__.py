"""The runtime: finds and registers plugins, executes runs into run folders, previews steps.

Discovery and the registry (``discovery``, ``registry``, ``code_hash``), the run file
(``runfile``), the engine and its failures (``engine``, ``step_failure``), the run store
(``store``), step previews (``preview``) and the threaded HTTP server the servers share
(``http_serving``). It may import the plugin contract (``workbench`` top level), ``lm``
and ``resources``; never the built-in plugins (docs/architecture.md).
"""
