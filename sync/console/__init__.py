"""The support console: pages and a JSON API over the store, behind a login (FastAPI)."""
