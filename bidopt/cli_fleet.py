"""``bidopt fleet``: one portfolio bid for many sites (``bidopt.bids.fleet.fleet_bid``), registered on
the ``bidopt`` command group by ``add_to``. Parse, call the library, write files; volumes in MW,
capacity prices in EUR/MW/h, money in EUR.

Files in ``--out``: ``dayahead_orders.json`` (one curve order for the fleet), ``fcr_bids.csv`` (the
pooled FCR bids, the layout ``bidopt bid`` writes), ``<name>_bids.csv`` for every other pooled
capacity product, ``capacity_shares.csv`` (each site's offer and share of each pooled bid),
``sites.csv`` (one row per site), ``schedule.csv`` (the fleet's expected grid flows) and
``summary.json``. ``bidopt.cli`` calls ``add_to`` with itself (this module does not import it).
"""

from __future__ import annotations

from pathlib import Path


def site_paths(paths) -> list[Path]:
    """The site case files: a file as given, a folder holding ``case.toml`` as that file, any other
    folder as its ``*.toml`` files in name order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir() and not (p / "case.toml").exists():
            out += sorted(p.glob("*.toml"))
        else:
            out.append(p)
    return out


def add_to(main, cli) -> None:
    """Register ``fleet`` on the click group ``main``, with the option callbacks, decorators and
    writer of the module ``cli`` (``bidopt.cli``, passed in: it imports this module)."""
    import click

    @main.command()
    @click.argument("sites", metavar="SITE...", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--day", required=True, callback=cli._day, help="Delivery day YYYY-MM-DD (Europe/Stockholm).")
    @click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
                  help="Folder for dayahead_orders.json, fcr_bids.csv, capacity_shares.csv, sites.csv, "
                       "schedule.csv and summary.json.")
    @click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                  help="Processes on a local Dask cluster solving the sites.")
    @click.option("--scheduler", default=None, help="Address of an existing Dask scheduler (instead of --workers).")
    @cli._solver_options
    @cli._reports_errors
    @cli._locks_out
    def fleet(sites, day, out_dir, workers, scheduler, time_limit, mip_gap):
        """One day-ahead bid for a fleet of sites, with reserve capacity bid as a pool.

        SITE is a case TOML file, a folder holding case.toml, or a folder of site case files (*.toml).
        Each site is solved on its own against one price forecast; the curves are summed into one
        order, and the reserve capacity the sites offer is pooled: rounded to the product's lot and
        minimum bid, each site's share in capacity_shares.csv (docs/bidding.md, "Fleets").
        """
        from bidopt.bids import export
        from bidopt.bids.fleet import fleet_bid
        from bidopt.case import load_case
        from bidopt.errors import InputError

        if workers > 1 and scheduler:
            raise InputError(None, "--workers", "give --workers or --scheduler, not both")
        cases = [load_case(p) for p in site_paths(sites)]
        fb = fleet_bid(cases, day, workers=workers, scheduler=scheduler, time_limit_s=time_limit,
                       mip_gap=mip_gap, keep_site_curves=False)
        pool = fb.capacity
        products = pool.product_bids() if pool is not None else {}
        s = fb.summary
        pooled = ", ".join(f"{k} {v['pooled_mw_h']:g} MW h" for k, v in s["capacity"].items()) or "no reserve capacity"
        cli._write(out_dir, {
            "dayahead_orders.json": lambda p: export.write_orders(fb.orders, p),
            "fcr_bids.csv": lambda p: export.write_fcr_bids(fb.fcr_bids, p),
            **{f"{name}_bids.csv": lambda p, b=b: export.write_capacity_bids(b, p) for name, b in products.items()},
            "capacity_shares.csv": lambda p: cli.output.table_csv(
                pool.shares if pool is not None else _no_shares(), p),
            "sites.csv": lambda p: cli.output.table_csv(fb.sites, p),
            "schedule.csv": lambda p: cli.output.schedule_csv(fb.schedule, p),
            "summary.json": lambda p: cli.output.summary_json(s, p),
        }, f"fleet of {s['n_sites']} sites {day}: expected {s['objective_eur']:.2f} EUR over "
           f"{s['n_scenarios']} scenarios ({s['wall_seconds']:.1f} s); pooled {pooled}")


def _no_shares():
    import pandas as pd

    from bidopt.bids.fleet_pool import SHARE_COLUMNS

    return pd.DataFrame(columns=list(SHARE_COLUMNS))


__all__ = ["add_to", "site_paths"]
