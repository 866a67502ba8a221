"""Layer 6: tables, figures, HTML/JSON rendering and methods text, built only from results."""
