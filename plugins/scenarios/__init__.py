"""Built-in scenario generators: the template engine, the model engine and counterfactual probes."""

from __future__ import annotations

from workbench.hookspecs import hookimpl


@hookimpl
def register_scenario_generators(register):
    from workbench.plugins.scenarios.counterfactual import CounterfactualProbes
    from workbench.plugins.scenarios.model_engine import ModelScenarios
    from workbench.plugins.scenarios.template_engine import TemplateScenarios

    register(TemplateScenarios)
    register(ModelScenarios)
    register(CounterfactualProbes)
