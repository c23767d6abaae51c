"""docs/markets.md has one section per registered market product (issue 16 item 6), each naming
its module, units, formulation, gate and what is UNVERIFIED; a product added to the registry
without a section fails here."""

from __future__ import annotations

import re
from typing import ClassVar

import pytest

from bidopt import markets
from bidopt.markets.base import Product
from tests.conftest import REPO

DOC = REPO / "docs" / "markets.md"
UNITS = ("EUR/MWh", "EUR/MW/h", "EUR/MW")


def sections(text: str) -> dict[str, str]:
    """{heading line: body} of the level-2 sections of ``text``."""
    parts = re.split(r"^(## .*)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def heading_ref(prod: Product) -> str:
    """What a product's heading names: its case table, or its price key for a product without one."""
    return f"`[markets.{prod.name}]`" if prod.has_table else f"`[prices] {prod.name}`"


def problems(text: str, products) -> list[str]:
    """What docs/markets.md ``text`` lacks for ``products``, one line each (empty: complete)."""
    found = sections(text)
    out = []
    for prod in products:
        ref = heading_ref(prod)
        heads = [h for h in found if ref in h]
        if len(heads) != 1:
            out.append(f"{prod.name}: {len(heads)} sections whose heading names {ref} (need exactly one)")
            continue
        body = found[heads[0]]
        module = type(prod).__module__.replace(".", "/") + ".py"
        checks = {
            f"its module {module}": module in body,
            "its units (EUR/MWh, EUR/MW/h or EUR/MW, and MW)": any(u in body for u in UNITS) and "MW" in body,
            "a **Formulation** paragraph": "**Formulation" in body,
            "its gate(s)": re.search(r"\bgate", body, flags=re.IGNORECASE) is not None,
            "a **Sources and status.** paragraph naming what is UNVERIFIED":
                "**Sources and status.**" in body and "UNVERIFIED" in body.split("**Sources and status.**", 1)[-1],
        }
        out += [f"{prod.name} ({heads[0]}): lacks {what}" for what, ok in checks.items() if not ok]
    return out


@pytest.mark.parametrize("prod", markets.registered(), ids=lambda p: p.name)
def test_every_registered_product_has_a_complete_section(prod):
    assert problems(DOC.read_text(encoding="utf-8"), [prod]) == []


def test_the_products_of_the_issue_are_registered():
    """Issue 16's products are all in the registry, so the test above covers them."""
    names = {p.name for p in markets.registered()}
    assert {"dayahead", "intraday", "imbalance", "fcr", "ffr", "afrr"} <= names


class _Undocumented(Product):
    name = "toy_reserve"
    streams: ClassVar[tuple[str, ...]] = ("toy_reserve",)


def test_a_product_without_a_section_is_reported():
    """The check can fail: a product the page does not name, and a section stripped of its
    formulation and sources, are both reported."""
    text = DOC.read_text(encoding="utf-8")
    assert problems(text, [_Undocumented()]) == [
        "toy_reserve: 0 sections whose heading names `[markets.toy_reserve]` (need exactly one)"]
    ffr = markets.product("ffr")
    stripped = text.replace("**Formulation.**", "Maths.").replace("**Sources and status.**", "Status.")
    got = problems(stripped, [ffr])
    assert any("Formulation" in g for g in got) and any("UNVERIFIED" in g for g in got), got
