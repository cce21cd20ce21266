"""Build hook (everything else is in pyproject.toml): a built wheel ships the derivation of its own sources.

After ``build_py`` copies the package, ``python -m symroof.derive --ship`` derives the model from the copied
sources into ``symroof/_derived/model-<key>/``, so the first command after ``pip install .`` reads it instead
of spending seconds in sympy. If the derivation fails, the build warns and ships none: the first use derives
into the user cache as before. An editable install reads the checkout and keeps using the user cache.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithDerivation(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        shipped = Path(self.build_lib) / "symroof" / "_derived"
        shutil.rmtree(shipped, ignore_errors=True)  # a stale key from an earlier build in the same folder
        with tempfile.TemporaryDirectory() as scratch:
            # The built copy first on the path (pip's build environment comes through PYTHONPATH too); no
            # bytecode written into the build; no user cache touched; not run from the checkout, which would
            # shadow the built copy.
            path = os.pathsep.join(filter(None, [str(Path(self.build_lib).resolve()), os.environ.get("PYTHONPATH")]))
            env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1", "SYMROOF_CACHE": scratch}
            try:
                subprocess.run(
                    [sys.executable, "-m", "symroof.derive", "--ship", str(shipped.resolve())],
                    env=env,
                    cwd=scratch,
                    check=True,
                    timeout=1800,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                shutil.rmtree(shipped, ignore_errors=True)
                self.warn(
                    f"symroof: no derivation shipped in the wheel ({exc}); the first command after "
                    "installing it will derive the model into the user cache (15 to 40 s, once)"
                )


setup(cmdclass={"build_py": BuildPyWithDerivation})
