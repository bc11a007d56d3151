"""Socle: security baseline enforcement and audit for French social and medico-social facilities."""

__version__ = "0.1.0"
