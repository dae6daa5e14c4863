"""Benchmarks of the built-in plugins' internals, run by ``workbench bench NAME``.

They live beside the plugins they measure so the core never imports a plugin; the
bench command finds them by this package's name. Each module imports the plugin
internals inside its functions: listing the benchmarks stays cheap.
"""
