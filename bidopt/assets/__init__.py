"""Asset kinds. Each module defines one kind and registers it with ``bidopt.case.register_asset``;
every module here is imported (and so registered) when the package is."""

from bidopt.assets.base import AssetBase
from bidopt.registry import import_all

import_all(__name__, __path__)

__all__ = ["AssetBase"]
