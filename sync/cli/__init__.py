"""The ``revbridge`` command line: typer commands and their rendering, ``init``, ``demo``."""
