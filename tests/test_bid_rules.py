"""Exchange rules for orders files (bidopt.bids): valid files pass, each broken rule is named."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bidopt.bids.contracts import AuctionContracts, auction_and_contracts, dayahead_product
from bidopt.bids.export import (
    empty_orders,
    price_independent_curve,
    read_fcr_bids,
    read_orders,
    step_curve,
    write_fcr_bids,
    write_orders,
)
from bidopt.bids.orders import Block, BlockOrder, BlockPeriod, CurveOrder, OrdersFile
from bidopt.bids.rules import ExchangeRules, validate, validate_fcr_bids
from bidopt.cli import main
from bidopt.errors import InputError

RULES = ExchangeRules()


def valid_orders(product: str, day: str, area: str = "SE3") -> OrdersFile:
    """A file using every order kind: curves, regular/profile/curtailable/linked blocks,
    an exclusive group, and a linked exclusive-group order (as in Nord Pool's example)."""
    o = empty_orders(product, day, area)
    lo, hi = RULES.price_limits(o.delivery_day)
    ids = [c.contract_id for c in o.contracts]
    curves = [price_independent_curve(ids[0], 1.5, lo, hi)]
    curves += [step_curve(c, [(lo, 2.0), (10.0, 0.5), (55.0, -1.0)], lo, hi) for c in ids[1:]]
    o.curve_orders = [CurveOrder(auction_id=o.auction_id, portfolio="P1", area_code=area, curves=curves)]

    def periods(sl, vols):
        return [BlockPeriod(contract_id=c, volume=v) for c, v in zip(ids[sl], vols, strict=True)]

    o.block_orders = [BlockOrder(auction_id=o.auction_id, portfolio="P1", area_code=area, blocks=[
        Block(name="Regular", price=80.0, minimum_acceptance_ratio=1, periods=periods(slice(8, 12), [-1.0] * 4)),
        Block(name="Curtailable", price=60.5, minimum_acceptance_ratio=0.5,
              periods=periods(slice(4, 7), [-0.5, -0.7, -0.6])),
        Block(name="Child", price=90.0, minimum_acceptance_ratio=1, linked_to="Regular",
              periods=periods(slice(12, 14), [-0.3, -0.3])),
        Block(name="Flex1", price=100.0, minimum_acceptance_ratio=1, exclusive_group="EG1",
              periods=periods(slice(16, 17), [-1.0])),
        Block(name="Flex2", price=100.0, minimum_acceptance_ratio=1, exclusive_group="EG1",
              periods=periods(slice(17, 18), [-1.0])),
    ])]
    o.linked_exclusive_group_orders = [BlockOrder(auction_id=o.auction_id, portfolio="P1", area_code=area, blocks=[
        Block(name="Block 1", price=70.0, minimum_acceptance_ratio=1, exclusive_group="EG2",
              periods=periods(slice(18, 20), [-0.8, -0.8])),
        Block(name="Child Block 1", price=75.0, minimum_acceptance_ratio=1, linked_to="Block 1",
              exclusive_group="EG2", periods=periods(slice(20, 21), [-0.2])),
        Block(name="Block 2", price=72.0, minimum_acceptance_ratio=1, exclusive_group="EG2",
              periods=periods(slice(19, 21), [-0.8, -0.8])),
    ])]
    return o


BASE = valid_orders("NOR_QH_DA_1", "2026-04-05").to_dict()


def run_cli(*args):
    return CliRunner().invoke(main, ["validate", *map(str, args)])


# ---------------------------------------------------------------------------------------- ids


@pytest.mark.parametrize("product, day, n, last", [
    ("NOR_H_DA_1", "2024-03-31", 23, "NOR_H_DA_1-20240331-23"),
    ("NOR_H_DA_1", "2024-10-27", 25, "NOR_H_DA_1-20241027-25"),
    ("NOR_H_DA_1", "2024-03-14", 24, "NOR_H_DA_1-20240314-24"),
    ("NOR_QH_DA_1", "2026-03-29", 92, "NOR_QH_DA_1-20260329-92"),
    ("NOR_QH_DA_1", "2025-10-26", 100, "NOR_QH_DA_1-20251026-100"),
])
def test_valid_files_for_dst_days(tmp_path, product, day, n, last):
    o = valid_orders(product, day)
    assert len(o.contracts) == n and len(o.curve_orders[0].curves) == n
    assert o.contracts[-1].contract_id == last
    assert o.contracts[0].contract_id.endswith("-01")
    assert validate(o) == []
    path = write_orders(o, tmp_path / "dayahead_orders.json")
    assert read_orders(path) == o
    r = run_cli(path)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "valid"


def test_auction_id_is_close_for_bidding_date():
    assert auction_and_contracts("NOR_QH_DA_1", "2026-04-05").auction_id == "NOR_QH_DA_1-20260404"
    assert auction_and_contracts("NOR_H_DA_1", "2024-03-14").auction_id == "NOR_H_DA_1-20240313"
    ida3 = auction_and_contracts("NOR_IDA3_1", "2026-04-05")  # closes on D, covers 12-24
    assert ida3.auction_id == "NOR_IDA3_1-20260405"
    assert len(ida3.contracts) == 48 and ida3.contract_ids[0].endswith("-49")
    assert dayahead_product("2025-09-30", 60) == "NOR_H_DA_1"
    assert dayahead_product("2025-10-01", 15) == "NOR_QH_DA_1"
    with pytest.raises(ValueError):
        dayahead_product("2025-10-01", 60)


def test_contract_naming_is_replaceable():
    def from_api(product_id, day):  # e.g. ids as GET /auctions/{id} would list them
        ids = auction_and_contracts(product_id, day)
        contracts = [c.model_copy(update={"contract_id": f"X-{k}"}) for k, c in enumerate(ids.contracts)]
        return AuctionContracts(product_id, ids.auction_id, ids.delivery_day, contracts)

    o = empty_orders("NOR_H_DA_1", "2024-03-14", "SE3", make_ids=from_api)
    assert o.contracts[0].contract_id == "X-0"
    assert validate(o, make_ids=from_api) == []


def test_json_layout_is_the_auction_api_shape():
    d = BASE
    assert list(d)[:2] == ["auctionId", "product"]
    assert set(d) >= {"curveOrders", "blockOrders", "linkedExclusiveGroupOrders", "contracts", "deliveryDay"}
    assert list(d["curveOrders"][0]) == ["auctionId", "portfolio", "areaCode", "curves"]
    assert list(d["curveOrders"][0]["curves"][0]) == ["contractId", "curvePoints"]
    assert list(d["blockOrders"][0]["blocks"][0]) == [
        "name", "price", "minimumAcceptanceRatio", "linkedTo", "exclusiveGroup", "periods", "isSpreadBlock"]
    # a body copied from Nord Pool's Postman collection parses as it stands
    body = {"auctionId": "CWE_H_DA_1-20190828", "portfolio": "PORTFOLIO NAME", "areaCode": "FR", "blocks": [
        {"name": "ProfileBuyBlock0", "price": 63.7, "minimumAcceptanceRatio": 1,
         "periods": [{"contractId": "CWE_H_DA_1-20190829-03", "volume": 142.5}]}]}
    assert BlockOrder.model_validate(body).to_dict()["blocks"][0]["linkedTo"] is None


# ------------------------------------------------------------------------------- broken rules


def _curve(d, i=1):
    return d["curveOrders"][0]["curves"][i]["curvePoints"]


def _blocks(d):
    return d["blockOrders"][0]["blocks"]


def _leg(d):
    return d["linkedExclusiveGroupOrders"][0]["blocks"]


def m_below_min(d):
    _curve(d)[0]["price"] = -600.0


def m_above_max(d):
    _curve(d)[-1]["price"] = 4500.0


def m_no_min_endpoint(d):
    _curve(d)[0]["price"] = -400.0


def m_no_max_endpoint(d):
    _curve(d)[-1]["price"] = 3000.0


def m_too_many_points(d):
    pts = [{"price": -500.0 + k, "volume": 1.0} for k in range(200)] + [{"price": 4000.0, "volume": 1.0}]
    d["curveOrders"][0]["curves"][1]["curvePoints"] = pts


def m_too_few_points(d):
    d["curveOrders"][0]["curves"][1]["curvePoints"] = [{"price": -500.0, "volume": 1.0}]


def m_equal_prices(d):
    _curve(d)[2]["price"] = _curve(d)[1]["price"]


def m_volume_lot(d):
    _curve(d)[0]["volume"] = 2.05
    _curve(d)[1]["volume"] = 2.05


def m_price_tick(d):
    _curve(d)[1]["price"] = 9.995


def m_increasing(d):
    _curve(d)[-1]["volume"] = 5.0


def m_two_curve_orders(d):
    d["curveOrders"].append(copy.deepcopy(d["curveOrders"][0]))


def m_contract_of_other_day(d):
    d["curveOrders"][0]["curves"][1]["contractId"] = "NOR_QH_DA_1-20260406-02"


def m_duplicate_curve(d):
    d["curveOrders"][0]["curves"][2]["contractId"] = d["curveOrders"][0]["curves"][1]["contractId"]


def m_metadata_outside_day(d):
    d["contracts"][0]["deliveryStart"] = "2026-04-03T22:00:00Z"
    d["contracts"][0]["deliveryEnd"] = "2026-04-03T22:15:00Z"


def m_block_too_big(d):
    _blocks(d)[0]["periods"][0]["volume"] = -900.1


def m_duplicate_names(d):
    _blocks(d)[1]["name"] = "Regular"


def m_duplicate_names_across_orders(d):
    _leg(d)[2]["name"] = "Flex1"


def m_empty_name(d):
    _blocks(d)[1]["name"] = " "


def m_zero_volume(d):
    for p in _blocks(d)[1]["periods"]:
        p["volume"] = 0.0


def m_mar_zero(d):
    _blocks(d)[1]["minimumAcceptanceRatio"] = 0


def m_mar_above_one(d):
    _blocks(d)[1]["minimumAcceptanceRatio"] = 1.5


def m_missing_parent(d):
    _blocks(d)[2]["linkedTo"] = "Nope"


def m_self_link(d):
    _blocks(d)[2]["linkedTo"] = "Child"


def m_cycle(d):
    _blocks(d)[0]["linkedTo"] = "Child"


def m_empty_group(d):
    _blocks(d)[3]["exclusiveGroup"] = ""


def m_group_split(d):
    _leg(d)[2]["exclusiveGroup"] = "EG1"
    _leg(d)[0]["exclusiveGroup"] = "EG1"
    _leg(d)[1]["exclusiveGroup"] = "EG1"


def m_group_and_link_in_block_order(d):
    _blocks(d)[2]["exclusiveGroup"] = "EG1"


def m_leg_two_children(d):
    extra = copy.deepcopy(_leg(d)[1])
    extra["name"] = "Child Block 2"
    _leg(d).append(extra)


def m_leg_parent_without_group(d):
    _leg(d)[2]["exclusiveGroup"] = None


def m_leg_too_many(d):
    for _ in range(3):
        d["linkedExclusiveGroupOrders"].append(copy.deepcopy(d["linkedExclusiveGroupOrders"][0]))
    for k, o in enumerate(d["linkedExclusiveGroupOrders"]):
        for b in o["blocks"]:
            b["name"] = f"{b['name']} {k}"
            b["linkedTo"] = f"{b['linkedTo']} {k}" if b["linkedTo"] else None
            b["exclusiveGroup"] = f"EG{10 + k}"


def m_block_price_tick(d):
    _blocks(d)[0]["price"] = 80.001


def m_block_price_limit(d):
    _blocks(d)[0]["price"] = 4000.01


def m_block_gap(d):
    _blocks(d)[0]["periods"][1]["contractId"] = "NOR_QH_DA_1-20260405-30"


def m_block_volume_lot(d):
    _blocks(d)[0]["periods"][1]["volume"] = -1.01


def m_block_no_periods(d):
    _blocks(d)[0]["periods"] = []


def m_auction_id(d):
    d["auctionId"] = "NOR_QH_DA_1-20260405"
    for key in ("curveOrders", "blockOrders", "linkedExclusiveGroupOrders"):
        for o in d[key]:
            o["auctionId"] = d["auctionId"]


def m_order_auction(d):
    d["blockOrders"][0]["auctionId"] = "NOR_QH_DA_1-20260403"


def m_unknown_product(d):
    d["product"] = "NOR_XX_DA_1"


def m_resolution(d):
    d["resolutionSeconds"] = 3600


def m_area(d):
    d["curveOrders"][0]["areaCode"] = "SE4"


BROKEN = [
    (m_below_min, "price -600 EUR/MWh is below the minimum price -500"),
    (m_above_max, "price 4500 EUR/MWh is above the maximum price 4000"),
    (m_no_min_endpoint, "must have a point at the minimum price -500 EUR/MWh (lowest is -400)"),
    (m_no_max_endpoint, "must have a point at the maximum price 4000 EUR/MWh (highest is 3000)"),
    (m_too_many_points, "has 201 points; at most 200 are allowed"),
    (m_too_few_points, "has 1 point(s); at least 2 are needed"),
    (m_equal_prices, "prices must strictly increase along the curve (point 3: 9.99 after 9.99 EUR/MWh)"),
    (m_volume_lot, "volume 2.05 (and 1 more) MW is not a multiple of the lot 0.1 MW"),
    (m_price_tick, "price 9.995 is not a multiple of the tick 0.01 EUR/MWh"),
    (m_increasing, "volume must not increase with price (positive = buy): 5 MW at 4000 EUR/MWh after -1 MW"),
    (m_two_curve_orders, "2 curve orders for area 'SE3' and portfolio 'P1' (curve orders 1, 2); "
                         "one curve order per area and portfolio is allowed"),
    (m_contract_of_other_day, "contract 'NOR_QH_DA_1-20260406-02' is not a contract of auction "
                              "'NOR_QH_DA_1-20260404' (delivery day 2026-04-05)"),
    (m_duplicate_curve, "contract 'NOR_QH_DA_1-20260405-02' has 2 curves; one is allowed"),
    (m_metadata_outside_day, "contracts outside delivery day 2026-04-05 (Europe/Stockholm): 'NOR_QH_DA_1-20260405-01'"),
    (m_block_too_big, "block 'Regular': volume -900.1 MW in 'NOR_QH_DA_1-20260405-09' exceeds the maximum "
                      "block volume 900 MW"),
    (m_duplicate_names, "block name 'Regular' is used by 2 blocks in portfolio 'P1', area 'SE3'"),
    (m_duplicate_names_across_orders, "block name 'Flex1' is used by 2 blocks"),
    (m_empty_name, "block ' ': block name is empty"),
    (m_zero_volume, "block 'Curtailable': all period volumes are zero"),
    (m_mar_zero, "block 'Curtailable': minimumAcceptanceRatio 0 is not in (0, 1]"),
    (m_mar_above_one, "block 'Curtailable': minimumAcceptanceRatio 1.5 is not in (0, 1]"),
    (m_missing_parent, "block 'Child': linkedTo 'Nope' is not a block of this order"),
    (m_self_link, "block 'Child': is linked to itself"),
    (m_cycle, "linked blocks form a cycle: Regular -> Child -> Regular"),
    (m_empty_group, "block 'Flex1': exclusiveGroup is empty"),
    (m_group_split, "exclusive group 'EG1' (portfolio 'P1', area 'SE3') is split over block order 1, "
                    "linked exclusive-group order 1"),
    (m_group_and_link_in_block_order, "block 'Child': is in exclusive group 'EG1' and linked to 'Regular'; "
                                      "use a linked exclusive-group order"),
    (m_leg_two_children, "block 'Block 1': is the parent of 2 linked blocks"),
    (m_leg_parent_without_group, "block 'Block 2': has no exclusiveGroup"),
    (m_leg_too_many, "portfolio 'P1' has 4 linked exclusive-group orders; at most 3 are allowed"),
    (m_block_price_tick, "block 'Regular': price 80.001 is not a multiple of the tick 0.01 EUR/MWh"),
    (m_block_price_limit, "block 'Regular': price 4000.01 EUR/MWh is outside the limits [-500, 4000]"),
    (m_block_gap, "block 'Regular': periods are not consecutive contracts"),
    (m_block_volume_lot, "block 'Regular': volume -1.01 MW is not a multiple of the lot 0.1 MW"),
    (m_block_no_periods, "block 'Regular': has no periods"),
    (m_auction_id, "auctionId 'NOR_QH_DA_1-20260405' does not match product NOR_QH_DA_1 and delivery day "
                   "2026-04-05 (expected 'NOR_QH_DA_1-20260404')"),
    (m_order_auction, "block order 1 (portfolio 'P1', area 'SE3'): auctionId 'NOR_QH_DA_1-20260403' differs"),
    (m_unknown_product, "product 'NOR_XX_DA_1' is unknown"),
    (m_resolution, "resolutionSeconds 3600 does not match product NOR_QH_DA_1 (900 s)"),
    (m_area, "areaCode 'SE4' differs from the file's area 'SE3'"),
]


@pytest.mark.parametrize("mutate, message", BROKEN, ids=[m.__name__[2:] for m, _ in BROKEN])
def test_each_broken_rule_is_named(mutate, message):
    d = copy.deepcopy(BASE)
    mutate(d)
    problems = validate(OrdersFile.model_validate(d))
    assert any(message in p for p in problems), problems


def test_messages_name_the_order_and_contract():
    d = copy.deepcopy(BASE)
    m_price_tick(d)
    (p,) = validate(OrdersFile.model_validate(d))
    assert p == ("curve order 1 (portfolio 'P1', area 'SE3'), contract 'NOR_QH_DA_1-20260405-02': "
                 "price 9.995 is not a multiple of the tick 0.01 EUR/MWh")


@pytest.mark.parametrize("mutate, message", [BROKEN[i] for i in (1, 9, 10, 14, 19, 29)],
                         ids=["above_max", "increasing", "two_curve_orders", "block_too_big", "mar", "leg_limit"])
def test_cli_reports_broken_rules(tmp_path, mutate, message):
    d = copy.deepcopy(BASE)
    mutate(d)
    path = tmp_path / "dayahead_orders.json"
    path.write_text(json.dumps(d))
    r = run_cli(path)
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert any(message in line for line in lines), lines
    assert "valid" not in lines


def test_price_limits_are_dated():
    # HMMCP 3000 -> 4000 EUR/MWh from delivery day 2022-05-10 (MARKET_RULES 1.5)
    before = valid_orders("NOR_H_DA_1", "2022-05-09")
    assert validate(before) == []
    assert before.curve_orders[0].curves[0].curve_points[-1].price == 3000.0
    d = before.to_dict()
    _curve(d)[-1]["price"] = 4000.0
    assert any("above the maximum price 3000" in p for p in validate(OrdersFile.model_validate(d)))
    after = valid_orders("NOR_H_DA_1", "2022-05-10")
    assert after.curve_orders[0].curves[0].curve_points[-1].price == 4000.0
    assert validate(after) == []


def test_product_must_exist_on_the_day():
    o = valid_orders("NOR_H_DA_1", "2025-09-30")
    assert validate(o) == []
    d = o.to_dict()
    d["deliveryDay"] = "2025-10-01"
    d["auctionId"] = "NOR_H_DA_1-20250930"
    d["contracts"] = None
    for key in ("curveOrders", "blockOrders", "linkedExclusiveGroupOrders"):
        for order in d[key]:
            order["auctionId"] = d["auctionId"]
    problems = validate(OrdersFile.model_validate(d))
    assert problems == ["product NOR_H_DA_1 does not exist for delivery day 2025-10-01 (last delivery day 2025-09-30)"]


def test_metadata_is_optional():
    d = copy.deepcopy(BASE)
    for key in ("deliveryDay", "area", "resolutionSeconds", "contracts"):
        d.pop(key)
    assert validate(OrdersFile.model_validate(d)) == []  # delivery day read from the auction id


# ---------------------------------------------------------------------------- unreadable input


@pytest.mark.parametrize("text, field", [
    ("{not json", "line 1 column 2"),
    ("[1, 2]", None),
    ('{"auctionId": "A", "product": "NOR_QH_DA_1", "curveOrders": [{"auctionId": "A"}]}', "curveOrders[0].portfolio"),
    ('{"auctionId": "A", "product": "NOR_QH_DA_1", "curveOrder": []}', "curveOrder"),
])
def test_unreadable_orders_exit_2(tmp_path, text, field):
    path = tmp_path / "orders.json"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        read_orders(path)
    assert e.value.field == field
    r = run_cli(path)
    assert r.exit_code == 2
    assert len(r.output.strip().splitlines()) == 1 and str(path) in r.output
    assert "Traceback" not in r.output


def test_missing_file_exit_2(tmp_path):
    r = run_cli(tmp_path / "nope.json")
    assert r.exit_code == 2 and "file not found" in r.output


# ------------------------------------------------------------------------------------- curves


def test_step_curve_points():
    c = step_curve("c", [(-500, 50.0), (50.1, 0.0), (55.1, -10.0), (60.1, -30.0)], -500, 4000)
    pts = [(p.price, p.volume) for p in c.curve_points]
    assert pts == [(-500, 50), (50.09, 50), (50.1, 0), (55.09, 0), (55.1, -10), (60.09, -10),
                   (60.1, -30), (4000, -30)]
    flat = price_independent_curve("c", -1.23, -500, 4000)
    assert [(p.price, p.volume) for p in flat.curve_points] == [(-500, -1.2), (4000, -1.2)]
    with pytest.raises(ValueError):
        step_curve("c", [(10, 1.0), (10.001, 0.0)], -500, 4000)
    with pytest.raises(ValueError):
        step_curve("c", [(-500 + k, -k) for k in range(101)], -500, 4000)  # 202 points


HOURLY = empty_orders("NOR_H_DA_1", "2024-10-27", "SE3")
steps_strategy = st.integers(1, 100).flatmap(lambda n: st.tuples(
    st.lists(st.integers(-50_000, 400_000), min_size=n, max_size=n, unique=True),
    st.lists(st.floats(-900, 900, allow_nan=False), min_size=n, max_size=n),
))


@settings(max_examples=60, deadline=None)
@given(steps_strategy, st.sampled_from(range(25)))
def test_step_curves_from_monotone_data_always_validate(data, k):
    ticks, vols = data
    prices = [t / 100 for t in sorted(ticks)]
    steps = list(zip(prices, sorted(vols, reverse=True), strict=True))
    contract = HOURLY.contracts[k].contract_id
    curve = step_curve(contract, steps, -500, 4000)
    o = HOURLY.model_copy(update={"curve_orders": [
        CurveOrder(auction_id=HOURLY.auction_id, portfolio="P", area_code="SE3", curves=[curve])]})
    assert validate(o) == []


# ---------------------------------------------------------------------------------------- FCR


def fcr_bids() -> pd.DataFrame:
    hours = pd.date_range("2024-03-13T23:00Z", periods=3, freq="h")
    return pd.DataFrame({
        "product": ["fcr_n", "fcr_d_up", "fcr_d_down"],
        "auction": [1, 1, 2],
        "hour_start_utc": hours,
        "volume_mw": [0.1, 1.2, 0.5],
        "price_eur_per_mw_h": [10.0, 0.0, 3.25],
    })


def test_fcr_bids_round_trip_and_validate(tmp_path):
    path = write_fcr_bids(fcr_bids(), tmp_path / "fcr_bids.csv")
    assert path.read_text().splitlines()[0] == "product,auction,hour_start_utc,volume_mw,price_eur_per_mw_h"
    assert "2024-03-13T23:00:00Z" in path.read_text()
    assert validate_fcr_bids(read_fcr_bids(path)) == []
    assert validate_fcr_bids(fcr_bids()) == []
    r = run_cli(path)
    assert r.exit_code == 0 and r.output.strip() == "valid"


@pytest.mark.parametrize("column, value, message", [
    ("volume_mw", 0.05, "fcr bid row 2: volume 0.05 MW is below the minimum bid 0.1 MW"),
    ("volume_mw", 0.25, "fcr bid row 2: volume 0.25 MW is not a multiple of 0.1 MW"),
    ("product", "fcr_x", "fcr bid row 2: product 'fcr_x' is not one of fcr_n, fcr_d_up, fcr_d_down"),
    ("auction", 3, "fcr bid row 2: auction '3' is not one of 1, 2"),
    ("hour_start_utc", pd.Timestamp("2024-03-14T00:15Z"), "fcr bid row 2: hour_start_utc 2024-03-14T00:15:00Z is not on the hour"),
    ("price_eur_per_mw_h", -1.0, "fcr bid row 2: price -1 EUR/MW/h is negative"),
])
def test_fcr_rules(tmp_path, column, value, message):
    df = fcr_bids()
    df[column] = df[column].astype(object)
    df.loc[1, column] = value
    (problem,) = validate_fcr_bids(df)
    assert problem.startswith(message)
    if column != "hour_start_utc":
        path = write_fcr_bids(df, tmp_path / "fcr_bids.csv")
        r = run_cli(path)
        assert r.exit_code == 1 and r.output.strip().startswith(message)


def test_fcr_csv_missing_column_exit_2(tmp_path):
    path = tmp_path / "fcr_bids.csv"
    fcr_bids().drop(columns="auction").to_csv(path, index=False)
    r = run_cli(path)
    assert r.exit_code == 2 and "auction" in r.output


def test_rules_defaults_come_from_config(tmp_path):
    assert (RULES.tick_eur_per_mwh, RULES.lot_mw, RULES.max_curve_points, RULES.max_block_volume_mw,
            RULES.max_linked_eg_orders_per_portfolio) == (0.01, 0.1, 200, 900.0, 3)
    strict = ExchangeRules(max_block_volume_mw=0.5)
    d = copy.deepcopy(BASE)
    assert any("exceeds the maximum block volume 0.5 MW" in p for p in validate(OrdersFile.model_validate(d), strict))
    assert Path(__file__).parents[1].joinpath("bidopt/defaults/exchange_rules.toml").is_file()
