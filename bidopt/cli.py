"""The ``bidopt`` command line: parse, call the library, write files.

Exit codes: 0 success; 2 bad input (one line naming the file and field); 3 infeasible or solver
failure (naming the asset and constraint). Failed commands leave no partial output behind.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from functools import wraps
from pathlib import Path

import click

from bidopt.errors import BidoptError, InputError


class _OnFirstUse:
    """``bidopt.output``, imported on first use: a usage error never waits for pandas."""

    def __getattr__(self, name):
        from bidopt import output as module

        return getattr(module, name)


output = _OnFirstUse()


def _day(ctx, param, value):
    if value is None:
        return None
    from bidopt.numbers import check_day_range

    try:
        return check_day_range(dt.date.fromisoformat(value))
    except InputError as e:
        raise click.BadParameter(e.message) from None
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date (YYYY-MM-DD)") from None


def _day_text(ctx, param, value):
    """A YYYY-MM-DD option checked as ``_day`` does, passed on as text."""
    return None if value is None else _day(ctx, param, value).isoformat()


def _time_limit(ctx, param, value):
    """--time-limit: finite seconds > 0 (as ``bidopt.model.check_solver_options``)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value:g} is not a time limit (seconds, finite and > 0)")
    return value


def _mip_gap(ctx, param, value):
    """--mip-gap: a relative gap in [0, 1)."""
    if value is not None and not (math.isfinite(value) and 0 <= value < 1):
        raise click.BadParameter(f"{value:g} is not a relative MIP gap (a fraction in [0, 1), e.g. 0.001)")
    return value


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Group(click.Group):
    """The command group; a usage error (unknown option, bad value) is one line on stderr, exit 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as e:
            where = f" (see {e.ctx.command_path} --help)" if e.ctx is not None else ""
            click.echo(f"error: {_one_line(e.format_message())}{where}", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            click.echo(f"error: {_one_line(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def _reports_errors(fn):
    @wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BidoptError as e:
            click.echo(f"error: {_one_line(e)}", err=True)
            sys.exit(e.exit_code)

    return run


def _locks_out(fn):
    """Hold ``--out``'s lock for the whole command (``output.locked``): a second run into the same
    folder stops at once with exit 2 naming the first, and an unusable ``--out`` before any solve."""
    @wraps(fn)
    def run(*args, **kwargs):
        with output.locked(kwargs["out_dir"]):
            return fn(*args, **kwargs)

    return run


def _write(out_dir: Path, writers: dict, line: str) -> None:
    """Write all files at once (``output.write_all``), then say what was done and where."""
    files = output.write_all(out_dir, writers)
    click.echo(line)
    for f in files:
        click.echo(f"wrote {f}")


def _solver_options(fn):
    """``--time-limit`` and ``--mip-gap``, checked as the library checks them."""
    fn = click.option("--mip-gap", type=float, default=None, callback=_mip_gap,
                      help="Relative MIP gap in [0, 1); above the default 1e-4 the summary says the "
                           "solution is not proven optimal.")(fn)
    return click.option("--time-limit", type=float, default=None, callback=_time_limit,
                        help="Solver time limit in seconds (> 0).")(fn)


def _state_options(fn):
    """``--soc NAME=MWH`` (repeatable) and ``--peaks-so-far FILE``: today's state (``bidopt.state``)."""
    fn = click.option("--peaks-so-far", "peaks_file", type=click.Path(path_type=Path), default=None,
                      help="CSV of this month's hourly imports so far (timestamp_utc,power_mw): the peak "
                           "tariff's peaks already set, instead of the case's peaks_so_far_mw.")(fn)
    return click.option("--soc", "soc", multiple=True, metavar="NAME=MWH",
                        help="Initial SoC of storage asset NAME in MWh, instead of the case's "
                             "soc_initial_mwh (repeatable).")(fn)


def _day_options(outputs: str, mtu_note: str):
    """What plan and bid share: CASE, ``--day``, ``--out`` (the folder for ``outputs``), ``--mtu``,
    the solver and state options, one-line errors and the output-folder lock."""
    def wrap(fn):
        for deco in reversed((
            click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path)),
            click.option("--day", required=True, callback=_day, help="Delivery day YYYY-MM-DD (Europe/Stockholm)."),
            click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
                         help=f"Folder for {outputs}."),
            click.option("--mtu", "mtu_minutes", type=click.Choice(["15", "60"]), default=None,
                         help=f"Override the case's MTU length in minutes ({mtu_note})."),
            _solver_options,
            _state_options,
            _reports_errors,
            _locks_out,
        )):
            fn = deco(fn)
        return fn
    return wrap


def _with_state(case, day, soc: tuple[str, ...], peaks_file: Path | None):
    """The case with the ``--soc`` / ``--peaks-so-far`` state (``bidopt.state.with_state``); errors
    name the option and the asset, or the file and line."""
    if not soc and peaks_file is None:
        return case
    from bidopt.state import with_state

    values: dict[str, str] = {}
    for item in soc:
        name, sep, mwh = (x.strip() for x in item.partition("="))
        if not sep or not name or not mwh:
            raise InputError(None, "--soc", f"expected NAME=MWH (e.g. bess=0.2), got {item!r}")
        if name in values:
            raise InputError(None, f"--soc {name}", "given twice")
        values[name] = mwh
    try:
        return with_state(case, day, soc=values or None, peaks_so_far=peaks_file)
    except InputError as e:
        if e.field and e.field.startswith("soc."):
            raise InputError(None, f"--soc {e.field[4:]}", e.message) from None
        if e.field == "peaks_so_far" or (e.file == str(peaks_file) and not e.field):
            raise InputError(peaks_file, "--peaks-so-far", e.message) from None
        raise


def _say(summary: dict) -> None:
    """The summary's warnings and notes, one line each."""
    for w in summary.get("warnings", []):
        click.echo(f"warning: {w}")
    for n in summary.get("notes", []):
        click.echo(f"note: {n}")


@click.group(cls=_Group)
@click.version_option(package_name="bidopt")
def main():
    """bidopt: plan and bid flexible electricity assets in the Nordic markets."""


@main.command()
@_day_options("schedule.csv and summary.json", "15 or 60, as the day-ahead market")
def plan(case_path, day, out_dir, mtu_minutes, time_limit, mip_gap, soc, peaks_file):
    """Solve one delivery day with the case's prices as known.

    CASE is a case TOML file or a folder holding case.toml.
    """
    from bidopt.case import load_case
    from bidopt.model import plan as plan_day

    case = _with_state(load_case(case_path), day, soc, peaks_file)
    res = plan_day(case, day, mtu_minutes=int(mtu_minutes) if mtu_minutes else None,
                   time_limit_s=time_limit, mip_gap=mip_gap)
    s = res.summary
    _write(out_dir, {
        "schedule.csv": lambda p: output.schedule_csv(res.schedule, p),
        "summary.json": lambda p: output.summary_json(res.summary, p),
        "timing.csv": lambda p: output.timing_csv(res.summary, p),
    }, f"{case.case.name} {day}: objective {s['objective_eur']:.2f} EUR "
       f"({s['n_mtu']} MTUs, {s['solver']['status']}, {s['solver']['seconds']:.2f} s)")
    _say(s)


@main.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@_reports_errors
def validate_cmd(file):
    """Check a file bid, fcr2 or intraday wrote against its rules.

    FILE is recognised by its content (bidopt.bids.files): dayahead_orders.json or
    intraday_orders.json (Auction API orders), fcr_bids.csv, intraday_orders.csv (continuous
    intraday orders), schedule.csv or summary.json. Prints "valid" (exit 0) or one line per problem
    (exit 1); exit 2 if FILE cannot be read or is none of these.
    """
    from bidopt.bids.files import validate_file

    _, problems = validate_file(file)
    if problems:
        for p in problems:
            click.echo(p)
        sys.exit(1)
    click.echo("valid")



def _extra_bid_files(case, bm) -> dict:
    """{file name: table} of every product's own bid files (``Product.extra_bid_files``), priced at the
    bidding model's expected day-ahead price per MTU."""
    from bidopt import markets

    spot = (bm.prob[:, None] * bm.prices).sum(axis=0)
    return {f: t for name, cap in bm.capacities.items()
            for f, t in markets.product(name).extra_bid_files(cap, bm.horizon, case, spot).items()}


@main.command()
@_day_options("dayahead_orders.json, fcr_bids.csv, schedule.csv, summary.json and curves.png",
              "15 from delivery day 2025-10-01")
def bid(case_path, day, out_dir, mtu_minutes, time_limit, mip_gap, soc, peaks_file):
    """Day-ahead curve orders (Nord Pool Auction API JSON) and FCR bids for one delivery day.

    Price scenarios come from [bidding] scenarios, or from the baseline forecaster on the case's
    price history (only data published before the 12:00 CET gate).
    """
    from bidopt.bids import export
    from bidopt.bids.curve_plot import plot_curves
    from bidopt.bids.dayahead import bid as make_bids
    from bidopt.case import load_case

    case = _with_state(load_case(case_path), day, soc, peaks_file)
    b = make_bids(case, day, mtu_minutes=int(mtu_minutes) if mtu_minutes else None,
                  time_limit_s=time_limit, mip_gap=mip_gap)
    s = b.summary
    _write(out_dir, {
        "dayahead_orders.json": lambda p: export.write_orders(b.orders, p),
        "fcr_bids.csv": lambda p: export.write_fcr_bids(b.fcr_bids, p),
        # each plug-in product's bid file (stepped or price-taking; FCR: fcr_bids.csv)
        **{f"{name}_bids.csv": lambda p, t=table: export.write_capacity_bids(t, p)
           for name, table in b.capacity_bids.items()},
        # a product's own bid files (mFRR: mfrr_eam_bids.csv, energy bids matching the capacity)
        **{f: lambda p, t=t: output.table_csv(t, p) for f, t in _extra_bid_files(case, b.result.model).items()},
        "schedule.csv": lambda p: output.schedule_csv(b.schedule, p),
        "summary.json": lambda p: output.summary_json(b.summary, p),
        "timing.csv": lambda p: output.timing_csv(b.summary, p),
        "curves.png": lambda p: plot_curves(b.orders, b.result.model.prices, p, f"{case.case.name} {day}: day-ahead "
                                            f"curves ({s.get('price_responsive_curves', '?')} of {s.get('curves_total', '?')} "
                                            "price-responsive; dots: scenario prices)"),
    }, f"{case.case.name} {day}: expected {s['objective_eur']:.2f} EUR over {s['n_scenarios']} scenarios "
       f"({s['n_mtu']} MTUs, {s['solver']['status']}, {s['solver']['seconds']:.2f} s)")
    _say(s)


@main.command()
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@click.option("--day", required=True, callback=_day, help="Delivery day YYYY-MM-DD (Europe/Stockholm).")
@click.option("--position", "position_dir", required=True, type=click.Path(path_type=Path),
              help="Folder where `bidopt bid` wrote dayahead_orders.json and fcr_bids.csv.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
              help="Folder for fcr_bids.csv (auction-1 rows as given, then auction 2), schedule.csv, summary.json.")
@_solver_options
@_reports_errors
@_locks_out
def fcr2(case_path, day, position_dir, out_dir, time_limit, mip_gap):
    """FCR auction 2 bids (gate D-1 18:00) with the day-ahead result and auction 1 fixed.

    Stepped bids over auction-2 clearing-price scenarios forecast from history published before
    the gate; intraday trades and imbalance are the recourse.
    """
    from bidopt.bids import export
    from bidopt.bids.fcr_auction2 import auction2
    from bidopt.case import load_case

    case = load_case(case_path)
    r = auction2(case, day, position_dir, time_limit_s=time_limit, mip_gap=mip_gap)
    n2 = int((r.fcr_bids["auction"] == 2).sum())
    _write(out_dir, {
        "fcr_bids.csv": lambda p: export.write_fcr_bids(r.fcr_bids, p),
        "schedule.csv": lambda p: output.schedule_csv(r.schedule, p),
        "summary.json": lambda p: output.summary_json(r.summary, p),
        "timing.csv": lambda p: output.timing_csv(r.summary, p),
    }, f"{case.case.name} {day} FCR auction 2: {n2} bids, expected {r.summary['objective_eur']:.2f} EUR "
       f"over {r.summary['n_scenarios']} scenarios")


def _utc_time(ctx, param, value):
    if value is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a time (ISO 8601, e.g. 2025-11-12T09:00Z)") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@main.command()
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@click.option("--day", required=True, callback=_day, help="Delivery day YYYY-MM-DD (Europe/Stockholm).")
@click.option("--position", "position_dir", required=True, type=click.Path(path_type=Path),
              help="Folder where `bidopt bid` wrote dayahead_orders.json and fcr_bids.csv.")
@click.option("--stage", type=click.Choice(["IDA1", "IDA2", "IDA3", "continuous"]), required=True)
@click.option("--now", callback=_utc_time, default=None, help="Current time (UTC) for the continuous stage.")
@click.option("--fcr", "fcr_file", type=click.Path(path_type=Path), default=None,
              help="FCR bids sold so far (default POSITION/fcr_bids.csv; e.g. the file `bidopt fcr2` wrote).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True)
@_reports_errors
@_locks_out
def intraday(case_path, day, position_dir, stage, now, fcr_file, out_dir):
    """Re-plan with the day-ahead result and sold FCR fixed; write intraday orders.

    IDA stages write intraday_orders.json (Auction API shapes); the continuous stage writes
    intraday_orders.csv (timestamp_utc, side, volume_mw, limit_price_eur_per_mwh) for MTUs after
    its gate closure (60 min before delivery by default).
    """
    from bidopt.bids import export
    from bidopt.bids.intraday import replan
    from bidopt.case import load_case

    case = load_case(case_path)
    r = replan(case, day, position_dir, stage, now=now, fcr_file=fcr_file)
    writers = {
        "schedule.csv": lambda p: output.schedule_csv(r.schedule, p),
        "summary.json": lambda p: output.summary_json(r.summary, p),
        "timing.csv": lambda p: output.timing_csv(r.summary, p),
    }
    if r.orders is not None:
        writers["intraday_orders.json"] = lambda p: export.write_orders(r.orders, p)
    else:
        writers["intraday_orders.csv"] = lambda p: export.write_continuous_orders(r.continuous_orders, p)
    net_mwh = float(r.trades.sum()) * (r.schedule.index[1] - r.schedule.index[0]).seconds / 3600
    _write(out_dir, writers, f"{case.case.name} {day} {stage}: {r.summary['objective_eur']:.2f} EUR, "
           f"net intraday {net_mwh:.3f} MWh")

@main.command()
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@click.option("--start", required=True, callback=_day, help="First delivery day YYYY-MM-DD.")
@click.option("--end", required=True, callback=_day, help="Last delivery day YYYY-MM-DD (inclusive).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
              help="Folder for daily.csv, timeseries.csv, summary.json, report.html (and checkpoints).")
@click.option("--strategy", type=click.Choice(["bid", "expected", "persistence", "no_flex", "perfect_foresight"]),
              default=None, help="Default: [backtest] strategy, else bid. persistence and no_flex are the "
                                 "baselines (docs/backtesting.md).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on a local Dask cluster (the strategy and perfect-foresight chains run in parallel).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler (instead of --workers).")
@click.option("--fresh", is_flag=True, help="Ignore and delete checkpoints in --out instead of resuming.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar with ETA on stderr.")
@_reports_errors
def backtest(case_path, start, end, out_dir, strategy, workers, scheduler, fresh, progress):
    """Replay the decision timeline day by day on history; compare with perfect foresight.

    Resumes from the checkpoints in --out: a day is reused while its inputs (the case, the data it
    read, the days before it) are unchanged; the others are recomputed. A line on stderr says which.
    """
    from bidopt.backtest.engine import backtest as run
    from bidopt.backtest.engine import resume_message
    from bidopt.case import load_case

    if workers > 1 and scheduler:
        raise InputError(None, "--workers", "give --workers or --scheduler, not both")
    if scheduler is not None:
        from bidopt.cluster import check_address

        check_address(scheduler)  # before anything is read, written or deleted (--fresh)
    case = load_case(case_path)
    r = run(case, start, end, out_dir=out_dir, strategy=strategy, workers=workers, scheduler=scheduler,
            progress=progress, fresh=fresh)
    s = r.summary
    ratio = "n/a" if s["capture_ratio"] is None else f"{s['capture_ratio']:.3f}"
    click.echo(f"{case.case.name} {s['start']}..{s['end']} ({s['n_days']} days, {s['strategy']}): "
               f"{s['objective_eur']:.2f} EUR, perfect foresight {s['perfect_foresight_eur']:.2f} EUR, "
               f"capture ratio {ratio}")
    if s.get("baseline"):
        click.echo(f"baseline {s['baseline']}: {s['baseline_eur']:.2f} EUR, value added {s['value_added_eur']:.2f} EUR")
    for p in (s.get("capacity_products") or {}).values():  # each capacity product the case offers
        held = (f", accepted {p['accepted_mw_h']:.1f} of {p['offered_mw_h']:.1f} MW h offered"
                if "accepted_mw_h" in p and "offered_mw_h" in p else "")
        click.echo(f"{p['label']}: {p['revenue_eur']:.2f} EUR{held}")
    for w in s["warnings"]:
        click.echo(f"warning: {w}")
    click.echo(resume_message(s, out_dir), err=True)
    for f in ("daily.csv", "timeseries.csv", "summary.json", "report.html"):
        click.echo(f"wrote {out_dir / f}")


@main.command()
@click.argument("out_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.argument("others", metavar="[OTHER]...", nargs=-1, type=click.Path(path_type=Path))
@click.option("--week", default=None, callback=_day_text,
              help="First day (YYYY-MM-DD) of the week to plot.")
@click.option("--day", default=None, callback=_day_text,
              help="Day (YYYY-MM-DD) of the bids-vs-outcome panel; default the median-capture day.")
@_reports_errors
def report(out_dir, others, week, day):
    """Rebuild DIR/report.html from a backtest's daily.csv, timeseries.csv and summary.json.

    OTHER backtest folders (e.g. the same case run with another --strategy) are put side by side
    with DIR's in the report.
    """
    from bidopt.backtest.report import write_report

    click.echo(f"wrote {write_report(out_dir, week=week, day=day, compare=others)}")


@main.command()
@click.argument("sweep_file", metavar="SWEEP", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@_reports_errors
def sweep(sweep_file, out_dir, workers, scheduler, progress):
    """Backtest cases x strategies x periods of a sweep file; write comparison.csv.

    SWEEP is TOML: cases = ["cases/demo", ...], strategies = ["bid", "expected"],
    and [[periods]] tables with start and end.
    """
    from bidopt.backtest.scale import sweep as run
    from bidopt.cluster import check_address

    if workers > 1 and scheduler:
        raise InputError(None, "--workers", "give --workers or --scheduler, not both")
    if scheduler is not None:
        check_address(scheduler)  # before the sweep file is read
    table = run(sweep_file, out_dir, workers=workers, scheduler=scheduler, progress=progress)
    click.echo(table.to_string(index=False))
    click.echo(f"wrote {out_dir / 'comparison.csv'}")


from bidopt import cli_fleet  # noqa: E402  (`bidopt fleet`, in its own module: cli.py is near its size limit)

cli_fleet.add_to(main, sys.modules[__name__])


if __name__ == "__main__":  # pragma: no cover
    main()
