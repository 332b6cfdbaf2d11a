"""The command line: ``unlearn-audit`` (:func:`audit.cli.app.main`) and its sub-commands."""
