"""Sources: files on disk (or in git), YAML/JSON with positions, and the resources in them."""
