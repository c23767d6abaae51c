"""No error message quotes a value read from a template or a data file (issue 14, item 2), and
``confine_paths`` keeps every data and template path inside the case's folder."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from bidopt.case import case_from_dict, load_case
from bidopt.cli import main
from bidopt.errors import InputError, excerpt
from tests.conftest import write_prices

SECRET = "S3CR3T" + uuid.uuid4().hex  # planted in templates and data files, never to be printed
DAY = "2024-03-04"

CASE = """
[case]
name = "leak"
{extra}
[prices]
dayahead = "{prices}"
[grid]
import_limit_mw = 1.0
export_limit_mw = 1.0
[[assets]]
{asset}
"""
BATTERY = ('kind = "battery"\npower_mw = 0.5\nenergy_mwh = 1.0\ncharge_efficiency = 0.95\n'
           'discharge_efficiency = 0.95\nsoc_min_mwh = 0.0\nsoc_max_mwh = 1.0\nsoc_initial_mwh = 0.5\n')


def make_case(folder: Path, asset: str = 'name = "bess"\n' + BATTERY, prices: str = "synthetic",
              extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.toml").write_text(CASE.format(asset=asset, prices=prices, extra=extra))
    return folder / "case.toml"


def template_case(folder: Path, template: str, asset_in_case: str = 'name = "bess"\n') -> Path:
    (folder / "t.toml").parent.mkdir(parents=True, exist_ok=True)
    (folder / "t.toml").write_text(template)
    return make_case(folder, asset=asset_in_case + 'template = "t.toml"\n')


def prices_case(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "p.csv").write_text(text)
    return make_case(folder, prices="p.csv")


GOOD = "timestamp_utc,price_eur_per_mwh\n"
HOURS = [f"2024-03-0{3 + h // 24}T{h % 24:02d}:00:00Z" for h in range(48)]

BAD_INPUTS = {
    # templates: an unknown key, a wrong type, a bad kind, a bad value under a template-given name
    "template_extra_key": lambda d: template_case(d, BATTERY + f'api_token = "{SECRET}"\n'),
    "template_wrong_type": lambda d: template_case(d, BATTERY.replace("power_mw = 0.5", f'power_mw = "{SECRET}"')),
    "template_bad_kind": lambda d: template_case(d, f'kind = "{SECRET}"\n'),
    "template_name": lambda d: template_case(d, BATTERY + f'name = "{SECRET}"\nsoc_max_mwh_typo = 1\n', ""),
    "template_in_range": lambda d: template_case(d, BATTERY.replace("energy_mwh = 1.0", f'energy_mwh = -1.0\nx_{SECRET[:8]} = "{SECRET}"')),
    "template_bad_toml": lambda d: template_case(d, f'power_mw = {SECRET}\n'),
    # data files: a cell, a timestamp, a header, an environment-like header
    "price_cell": lambda d: prices_case(d, GOOD + "".join(f"{t},{SECRET if i == 5 else 10}\n" for i, t in enumerate(HOURS))),
    "price_timestamp": lambda d: prices_case(d, GOOD + "".join(f"{SECRET if i == 5 else t},10\n" for i, t in enumerate(HOURS))),
    "price_header": lambda d: prices_case(d, f"when,TOKEN={SECRET}\n" + "".join(f"{t},10\n" for t in HOURS)),
    "price_extra_field": lambda d: prices_case(d, GOOD + "".join(f"{t},10{',' + SECRET if i == 7 else ''}\n"
                                                              for i, t in enumerate(HOURS))),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_no_error_quotes_a_template_or_data_value(tmp_path, name):
    case = BAD_INPUTS[name](tmp_path / "c")
    r = CliRunner().invoke(main, ["plan", str(case), "--day", DAY, "--out", str(tmp_path / "o")])
    text = r.output
    assert r.exit_code == 2, text
    assert len(text.strip().splitlines()) == 1, text
    assert SECRET not in text and SECRET[:12] not in text, text
    assert not (tmp_path / "o").exists()


def test_the_process_environment_is_not_printed(tmp_path):
    case = make_case(tmp_path / "c", prices="/proc/self/environ")
    if not Path("/proc/self/environ").exists():
        pytest.skip("no /proc")
    bidopt = Path(sys.executable).with_name("bidopt")
    r = subprocess.run([str(bidopt), "plan", str(case), "--day", DAY, "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "BIDOPT_TEST_SECRET": SECRET})
    assert r.returncode == 2, r.stderr
    assert SECRET not in r.stdout + r.stderr and "PATH=" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "/proc/self/environ" in r.stderr


def test_a_case_file_value_is_quoted_short_and_printable(tmp_path):
    case = make_case(tmp_path / "c", extra='[solver]\ninterface = "' + "x" * 500 + '\\u0007"')
    with pytest.raises(InputError) as e:
        load_case(case)
    msg = str(e.value)
    assert "solver.interface" in msg and excerpt("x" * 501) in msg and len(msg) < 300, msg
    assert msg.isprintable()


# --- confine_paths ----------------------------------------------------------------------------------


def test_confine_refuses_paths_out_of_the_case_folder(tmp_path):
    outside = write_prices(tmp_path / "outside.csv", "2024-03-03T00:00Z", [10.0] * 48)
    inside = tmp_path / "c"
    case = make_case(inside, prices=str(outside))
    load_case(case)  # allowed without confinement
    with pytest.raises(InputError, match=r"prices\.dayahead: an absolute path") as e:
        load_case(case, confine=True)
    assert str(outside) not in str(e.value)
    make_case(inside, prices="../outside.csv", extra="confine_paths = true")
    with pytest.raises(InputError, match=r"prices\.dayahead: a path leaving the case folder"):
        load_case(case)
    (inside / "link.csv").symlink_to(outside)
    make_case(inside, prices="link.csv")
    with pytest.raises(InputError, match=r"prices\.dayahead: a path leaving"):
        load_case(case, confine=True)
    os.mkfifo(inside / "fifo.csv")
    make_case(inside, prices="fifo.csv")
    with pytest.raises(InputError, match=r"prices\.dayahead: a special file"):
        load_case(case, confine=True)
    write_prices(inside / "p.csv", "2024-03-03T00:00Z", [10.0] * 48)
    make_case(inside, prices="p.csv")
    assert load_case(case, confine=True).case.confine_paths


def test_confine_refuses_templates_out_of_the_case_folder(tmp_path):
    (tmp_path / "t.toml").write_text(BATTERY)
    inside = tmp_path / "c"
    inside.mkdir()
    (inside / "sub").mkdir()
    (inside / "sub" / "chain.toml").write_text('template = "../../t.toml"\n')
    for template, field in (("../t.toml", "assets[0].template"), (str(tmp_path / "t.toml"), "template"),
                            ("sub/chain.toml", "template")):
        case = make_case(inside, asset=f'name = "bess"\ntemplate = "{template}"\n', extra="confine_paths = true")
        with pytest.raises(InputError, match="confine_paths") as e:
            load_case(case)
        assert field in str(e.value)
    (inside / "sub" / "chain.toml").write_text('template = "../t.toml"\n')
    (inside / "t.toml").write_text(BATTERY)
    assert load_case(case).assets[0].power_mw == 0.5  # a chain that stays inside


def test_a_confined_case_built_in_code_refuses_at_read_time(tmp_path):
    data = {"prices": {"dayahead": "synthetic"}, "grid": {"import_limit_mw": 1, "export_limit_mw": 1}}
    case = case_from_dict(data, base_dir=tmp_path, confine=True)
    with pytest.raises(InputError, match="absolute path"):
        case.resolve("/etc/passwd")
    assert case.resolve("x.csv") == tmp_path / "x.csv"
