"""The engine: the runner (policy → cache → checks → controls → verdict), the verdict rules, the
one results builder, the :class:`~audit.engine.result_api.AuditResult` and streams of requests."""
