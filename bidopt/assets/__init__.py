"""Asset kinds. Each module defines one kind and registers it with ``bidopt.case.register_asset``."""

from bidopt.assets import battery, load, pv  # noqa: F401  (registration)
from bidopt.assets.base import AssetBase

__all__ = ["AssetBase"]
