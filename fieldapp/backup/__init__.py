"""Backups of a whole installation (database, photos, secret key) and their restore: docs/backup.md."""
