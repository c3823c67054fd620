"""Blue exports: the CSV template of a workspace and the export of its records."""
