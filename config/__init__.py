"""Settings: the typed model of revbridge's configuration and its loader."""
