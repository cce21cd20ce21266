"""Printers of sympy expressions for other targets, one module per target language."""
