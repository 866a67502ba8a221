"""Layer 1: the registry's entities and controlled vocabularies."""
