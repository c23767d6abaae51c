"""Case files: templates, relative paths, dated values, strictness."""

import datetime as dt

import pytest

import bidopt
from bidopt.case import Dated, dated_value
from tests.conftest import REPO, battery_case


def test_demo_case_loads_with_templates():
    case = bidopt.load_case(REPO / "cases" / "demo")
    bess = case.assets[0]
    assert bess.kind == "battery" and bess.name == "bess"
    assert bess.energy_mwh == 2.0 and bess.soc_final_mwh == 1.0  # from models/assets/battery_1mw_2mwh.toml
    assert case.tariffs[0].kind == "peak_power" and case.tariffs[0].n_peaks == 5
    assert case.base_dir == REPO / "cases" / "demo"


def test_template_keys_can_be_overridden(tmp_path):
    (tmp_path / "bat.toml").write_text('kind = "battery"\npower_mw = 1.0\nenergy_mwh = 2.0\n')
    data = battery_case()
    data["assets"] = [{"template": "bat.toml", "name": "b2", "energy_mwh": 4.0}]
    case = bidopt.case_from_dict(data, base_dir=tmp_path)
    assert case.assets[0].energy_mwh == 4.0 and case.assets[0].power_mw == 1.0


def test_missing_template_names_field(tmp_path):
    data = battery_case()
    data["assets"] = [{"template": "nope.toml", "name": "b"}]
    with pytest.raises(bidopt.InputError, match=r"assets\[0\].template"):
        bidopt.case_from_dict(data, base_dir=tmp_path, source=tmp_path / "case.toml")


def test_relative_paths_resolve_against_case_folder(tmp_path):
    case = bidopt.case_from_dict(battery_case("data/p.csv"), base_dir=tmp_path)
    assert case.resolve(case.prices.dayahead) == tmp_path / "data" / "p.csv"


def test_dated_values_pick_latest_in_force():
    rates = [Dated(valid_from=dt.date(2022, 1, 1), value=0.36), Dated(valid_from=dt.date(2024, 1, 1), value=0.428)]
    assert dated_value(rates, dt.date(2023, 6, 1)) == 0.36
    assert dated_value(rates, dt.date(2024, 1, 1)) == 0.428
    with pytest.raises(bidopt.InputError):
        dated_value(rates, dt.date(2021, 1, 1))


def test_default_energy_tax_table_is_dated():
    case = bidopt.case_from_dict(battery_case())
    assert dated_value(case.retail.energy_tax_sek_per_kwh, dt.date(2024, 5, 1)) == pytest.approx(0.428)
    assert dated_value(case.retail.energy_tax_sek_per_kwh, dt.date(2025, 5, 1)) == pytest.approx(0.439)


@pytest.mark.parametrize(
    "patch,field",
    [
        ({"power_mw": -1}, "power_mw"),
        ({"soc_initial_mwh": 3.0}, "soc_initial_mwh"),
        ({"charge_efficiency": 1.5}, "charge_efficiency"),
        ({"soc_min_mwh": 1.5, "soc_max_mwh": 1.0}, "soc_min_mwh"),
    ],
)
def test_bad_battery_fields_are_named(patch, field):
    with pytest.raises(bidopt.InputError) as e:
        bidopt.case_from_dict(battery_case(**patch), source="case.toml")
    assert field in str(e.value) and "assets[0] (bess)" in str(e.value)


def test_duplicate_asset_names():
    data = battery_case()
    data["assets"].append(dict(data["assets"][0]))
    with pytest.raises(bidopt.InputError, match="duplicate asset name"):
        bidopt.case_from_dict(data)


def test_every_model_template_parses():
    for path in sorted((REPO / "models").rglob("*.toml")):
        data = battery_case()
        key = "assets" if path.parent.name == "assets" else "tariffs"
        data[key] = [{"template": str(path), "name": "x"}] if key == "assets" else [{"template": str(path)}]
        if key == "tariffs":
            data["assets"] = []
        bidopt.case_from_dict(data)
