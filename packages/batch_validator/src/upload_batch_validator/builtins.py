"""The validators that ship with the package, by the image names the API accepts for them.

The names and commands are defined once, in `upload_common.validators` (the API and the local runner
read them there without importing this package); the console scripts they name are this package's.
On AWS each name is a real image whose `/validator` runs the same module.
"""

from __future__ import annotations

from upload_common.validators import BUILTIN_VALIDATORS

__all__ = ["BUILTIN_VALIDATORS"]
