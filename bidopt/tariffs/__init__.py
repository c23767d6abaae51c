"""Grid tariffs, energy tax and VAT. Each tariff kind is a module registered with
``bidopt.case.register_tariff`` (every module here is imported when the package is); ``retail``
builds the per-MWh price stack."""

from bidopt.registry import import_all
from bidopt.tariffs.base import TariffBase, Window

import_all(__name__, __path__)

__all__ = ["TariffBase", "Window"]
