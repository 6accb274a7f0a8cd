"""Chaperone's harness core: the foundation (errors, config, models, events), the target
adapters, the driver, the leak oracle and the engine that runs suites.

Everything above this package (scenarios, load, reports, flags, the CLI) imports from it;
it imports from none of them.
"""

__version__ = "0.1.0"
