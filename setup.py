"""The packages: ``workbench`` and, inside its namespace, the built-in plugins of the ``plugins/`` folder.

The folder keeps its short name in the repository but installs as ``workbench.plugins``, never as a
top-level ``plugins`` package that any other distribution may claim (docs/architecture.md). Everything
else about the distribution is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["workbench", "workbench.*"])
    + ["workbench.plugins"] + [f"workbench.plugins.{name}" for name in find_packages("plugins")],
    package_dir={"workbench.plugins": "plugins"},
)
