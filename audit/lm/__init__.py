"""Language-model audits (issue 16): loading causal LMs, their per-token outputs, the bios data."""
