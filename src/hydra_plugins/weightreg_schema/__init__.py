"""Registers weightreg's config schema with Hydra wherever Hydra discovers plugins.

`dvc exp run` composes conf/ in DVC's own process, which never imports weightreg; Hydra imports
every module under `hydra_plugins`, so this is how `config_schema` and `custom_schema` are found there too.
"""

import weightreg.config  # noqa: F401
import weightreg.custom_schema  # noqa: F401  (studies of your own model)
