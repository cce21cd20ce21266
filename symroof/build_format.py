"""The derivation cache's layout version (bump it when :func:`symroof.build.spec` changes shape)."""

FORMAT = 3
