"""Connectors: I/O with one system each, behind the protocol in :mod:`connectors.base`."""
