"""``revbridge serve``: scheduler, flow leases, health, metrics, alerts and logs."""
