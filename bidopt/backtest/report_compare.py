"""Strategies side by side in ``report.html``: ``bidopt report DIR OTHER...`` puts the backtests in
the folders ``OTHER...`` (e.g. the same case and period run with ``--strategy persistence`` into a
sibling folder, or the job folders of ``bidopt sweep``) beside the one in ``DIR``. Money EUR.

A table (one row per folder: strategy, case, period, result, perfect foresight, capture ratio,
baseline and value added where run) and the cumulative result of each run with the perfect
foresight of the first. Runs over other cases or periods than the first are marked, as their
figures do not compare.
"""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.figure import Figure


def _label(out_dir: Path, summary: dict) -> str:
    return f"{summary.get('strategy', '?')} ({Path(out_dir).name})"


def table(runs: list[tuple[Path, dict, pd.DataFrame]], eur) -> str:
    """The side-by-side table; ``eur`` formats money."""
    first = runs[0][1]
    key = (first.get("case"), first.get("start"), first.get("end"))
    head = ["run", "case", "period", "days", "result EUR", "perfect foresight EUR", "capture ratio",
            "baseline", "value added EUR"]
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for out_dir, s, _ in runs:
        cr = s.get("capture_ratio")
        same = (s.get("case"), s.get("start"), s.get("end")) == key
        cells = [_label(out_dir, s) + ("" if same else " (other case or period)"), s.get("case", "?"),
                 f"{s.get('start', '?')} to {s.get('end', '?')}", s.get("n_days", "?")]
        nums = [eur(s.get("objective_eur")), eur(s.get("perfect_foresight_eur")),
                "n/a" if cr is None else f"{100 * float(cr):.1f} %"]
        base = [s.get("baseline") or "", eur(s.get("value_added_eur")) if s.get("baseline") else ""]
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                   + "".join(f'<td class="n">{html.escape(str(c))}</td>' for c in nums)
                   + "".join(f"<td>{html.escape(str(c))}</td>" for c in base[:1])
                   + f'<td class="n">{html.escape(str(base[1]))}</td></tr>')
    out.append("</table>")
    return "\n".join(out)


def cumulative_figure(runs: list[tuple[Path, dict, pd.DataFrame]], new) -> Figure:
    fig, (ax,) = new()
    for out_dir, s, daily in runs:
        ax.plot(daily["date"], daily["total_eur"].fillna(0).cumsum(), lw=1.6, label=_label(out_dir, s))
    _, s0, d0 = runs[0]
    if "perfect_foresight_eur" in d0:
        ax.plot(d0["date"], d0["perfect_foresight_eur"].fillna(0).cumsum(), lw=1.3, ls="--", color="0.35",
                label=f"perfect foresight ({_label(runs[0][0], s0)})")
    ax.set_ylabel("cumulative EUR")
    ax.legend(loc="upper left", fontsize=8)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    return fig
