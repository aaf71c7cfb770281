"""HTML views. Thin: they load what the URL names, check permission, and call services."""
