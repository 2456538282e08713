"""Sync engine: flows, state store, change detection, error queue, CLI."""
