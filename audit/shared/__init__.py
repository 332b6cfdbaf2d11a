"""Contracts shared by the engine and the reports: error types, the one file digest, the keyed
forget-id commitment and process liveness. The only ``audit`` modules :mod:`reports` imports."""
