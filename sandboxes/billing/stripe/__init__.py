"""The Stripe-compatible half of the billing sandbox."""
