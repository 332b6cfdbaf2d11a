"""``python -m audit.cli``: the ``unlearn-audit`` command."""
from audit.cli.app import main

if __name__ == "__main__":
    main()
