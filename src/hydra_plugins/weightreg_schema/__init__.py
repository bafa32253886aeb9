"""Registers weightreg's study schema with Hydra wherever Hydra discovers plugins.

`dvc exp run` composes conf/ in DVC's own process, which never imports weightreg; Hydra imports
every module under `hydra_plugins`, so this is how `study_schema` is found there too.
"""

import weightreg.schema  # noqa: F401
