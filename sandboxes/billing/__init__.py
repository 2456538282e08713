"""A loopback billing REST API: the generic JSON API and a Stripe-compatible one."""
