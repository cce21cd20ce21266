"""Live-formula Excel workbooks, generated from the declared formulas.

``template`` reads what a workbook holds (``templates/*.toml``), ``writer``
lays it out with one workbook-scoped defined name per quantity, ``export``
writes it atomically and protects a planner's edits.
"""
