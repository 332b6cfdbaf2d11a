"""The engine core: the case, model adapters, the output cache, the policy and the decision kernel.

Checks (:mod:`audit.checks`) build on these modules; the engine (:mod:`audit.engine`) runs them.
Nothing here imports the checks' modules at import time except the policy, which reads their
declared options (``docs/architecture.md``, "Layers").
"""
