"""Layer 4: pure statistical functions on arrays returning frozen, serialisable results."""
