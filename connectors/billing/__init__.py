"""The billing system over REST (requests): the generic JSON profile, and Stripe's in stripe/."""
