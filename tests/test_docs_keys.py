"""docs/case-file.md documents every key the case file's [bidding], [[bidding.blocks]], [backtest] and
[markets.*] tables accept, each in its own section, so the reference cannot drift from the pydantic
models that read them (issue 12, item 9)."""

from __future__ import annotations

import re

import pytest

from bidopt.backtest.engine import BacktestSettings
from bidopt.bids.blocks import BlockCandidate
from bidopt.bids.dayahead import BiddingSettings
from bidopt.case import case_from_dict
from bidopt.model import MARKET_RULES
from tests.conftest import REPO

DOC = (REPO / "docs" / "case-file.md").read_text()
# products that are plug-ins of the market-product seam document their table in docs/markets.md
MARKETS_DOC = (REPO / "docs" / "markets.md").read_text()


def section(heading: str) -> str:
    """The text under ``heading`` (a line ``## ...`` or ``### ...``) up to the next heading, in
    docs/case-file.md or else docs/markets.md."""
    doc = DOC
    m = re.search(rf"^#+ {re.escape(heading)}\s*$", doc, flags=re.MULTILINE)
    if m is None:
        doc = MARKETS_DOC
        m = re.search(rf"^#+ .*{re.escape(heading)}\s*$", doc, flags=re.MULTILINE)
    assert m, f"no section {heading!r} in docs/case-file.md or docs/markets.md"
    rest = doc[m.end():]
    nxt = re.search(r"^#+ ", rest, flags=re.MULTILINE)
    return rest[: nxt.start()] if nxt else rest


def table_keys(text: str) -> set[str]:
    """Keys in the first column of the section's tables (`` `key` `` or several, comma-separated)."""
    keys = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            keys.update(re.findall(r"`([A-Za-z0-9_]+)`", first))
    return keys


def _markets() -> dict[str, type]:
    case = case_from_dict({"prices": {"dayahead": "synthetic"}, "grid": {"import_limit_mw": 1, "export_limit_mw": 1}})
    return {name: type(fn(case)) for name, fn in MARKET_RULES.items()}


MODELS = [("`[bidding]`", BiddingSettings), ("`[[bidding.blocks]]`", BlockCandidate),
          ("`[backtest]`", BacktestSettings)] + [(f"`[markets.{n}]`", m) for n, m in _markets().items()]


@pytest.mark.parametrize("heading,model", MODELS, ids=[h.strip("`[]") for h, _ in MODELS])
def test_every_accepted_key_is_documented_in_its_section(heading, model):
    documented = table_keys(section(heading))
    missing = sorted(set(model.model_fields) - documented)
    assert not missing, f"docs/case-file.md {heading} does not document {missing}"
    unknown = sorted(documented - set(model.model_fields))
    assert not unknown, f"docs/case-file.md {heading} documents keys {model.__name__} does not accept: {unknown}"


def test_every_market_table_has_a_section_and_the_docs_say_they_are_read():
    assert set(_markets()) >= {"fcr", "intraday", "imbalance"}
    markets = section("`[markets]`")
    for name in _markets():
        assert f"`[markets.{name}]`" in markets or f"`[markets.{name}]`" in MARKETS_DOC
    assert "ignored" not in markets and "ignored" not in section("Conventions").split("Unknown keys")[1].split("\n*")[0]


def test_contents_line_links_the_new_tables():
    head = DOC.split("---", 1)[0]
    for anchor in ("#bidding", "#biddingblocks", "#backtest"):
        assert f"]({anchor})" in head


def test_bidding_doc_does_not_deny_the_matplotlib_dependency():
    text = (REPO / "docs" / "bidding.md").read_text()
    assert "does not depend on" not in text
    assert "matplotlib" in (REPO / "pyproject.toml").read_text()
