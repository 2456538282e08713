"""The Stripe profile of the billing connector: form bodies, minor units, objects, orders."""
