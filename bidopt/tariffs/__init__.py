"""Grid tariffs, energy tax and VAT. Each tariff kind is a module registered with
``bidopt.case.register_tariff``; ``retail`` builds the per-MWh price stack."""

from bidopt.tariffs import energy_fee, fixed_fee, grid_fee, peak_power  # noqa: F401  (registration)
from bidopt.tariffs.base import TariffBase, Window

__all__ = ["TariffBase", "Window"]
