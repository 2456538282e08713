"""What admins run on mappings: preview, impact diff, live check, fixtures; and ``check``."""
