"""Evidence dossiers: a case exported as a signed, stand-alone verifiable ZIP (DESIGN.md §8)."""
