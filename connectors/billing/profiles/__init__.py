"""Billing API profiles shipped with revbridge (YAML data, no code)."""
