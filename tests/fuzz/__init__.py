"""The hostile-input harness (``make fuzz`` / ``python -m tests.fuzz``).

A corpus of bad inputs (case files, policies, data files, model files, CLI arguments,
tampered packs, interruptions), each run as its own ``python -m audit.cli`` subprocess
against a copy of one small valid case; every single-byte flip of a signed and an
unsigned evidence pack; and hypothesis-driven fuzzing of the case loader and policy.
See ``tests/fuzz/README.md``.
"""
