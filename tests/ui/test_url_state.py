"""URL state: query parameters parse into widget values and back, and hostile ones are ignored with a notice."""

from __future__ import annotations

import pytest

from ui.url_state import UrlParam, format_query, parse_query

PARAMS = [
    UrlParam("seed", "seed_key", "int", 0, 999_999),
    UrlParam("mix", "mix_key", "int", 0, 100),
    UrlParam("scale", "scale_key", "float", -5.0, 5.0),
    UrlParam("z", "z_key", "floats", -3.0, 3.0, max_items=4),
    UrlParam("classes", "classes_key", "ints", 0, 9, max_items=10),
    UrlParam("sampler", "sampler_key", "choice", choices=("gmm", "gaussian", "prior")),
    UrlParam("present", "present_key", "bool"),
    UrlParam("run", "run_key", "name"),
]


def test_values_round_trip_through_the_query():
    values = {"seed_key": 42, "mix_key": 80, "scale_key": -1.25, "z_key": [0.5, -2.0, 3.0],
              "classes_key": [4, 9], "sampler_key": "gaussian", "present_key": True, "run_key": "demo-vae-2d"}
    query = format_query(PARAMS, values)
    assert query == {"seed": "42", "mix": "80", "scale": "-1.25", "z": "0.5,-2,3", "classes": "4,9",
                     "sampler": "gaussian", "present": "1", "run": "demo-vae-2d"}
    parsed, notices = parse_query(PARAMS, query)
    assert parsed == values and notices == []


def test_floats_are_written_short_and_read_back_close():
    query = format_query(PARAMS, {"z_key": [0.123456789, 1 / 3]})
    assert query == {"z": "0.1235,0.3333"}
    parsed, _ = parse_query(PARAMS, query)
    assert parsed["z_key"] == pytest.approx([0.1235, 0.3333])


def test_missing_values_are_left_out_both_ways():
    assert format_query(PARAMS, {"seed_key": None, "mix_key": 3}) == {"mix": "3"}
    assert parse_query(PARAMS, {"unrelated": "x"}) == ({}, [])


@pytest.mark.parametrize("name, text, reason", [
    ("seed", "abc", "not a whole number"),
    ("seed", "1.5", "not a whole number"),
    ("seed", "-1", "outside 0 to 999999"),
    ("seed", "9" * 500, "too long"),
    ("mix", "101", "outside 0 to 100"),
    ("scale", "nan", "not a finite number"),
    ("scale", "inf", "not a finite number"),
    ("scale", "1e999", "not a finite number"),
    ("z", "1,2,3,4,5", "more than 4 values"),
    ("z", "1,x", "not a number"),
    ("classes", "3,12", "outside 0 to 9"),
    ("sampler", "../../etc", "not one of gmm, gaussian, prior"),
    ("present", "maybe", "not 1 or 0"),
    ("run", "../secret", "not a run name"),
    ("run", "a/b", "not a run name"),
    ("run", ".hidden", "not a run name"),
])
def test_a_bad_value_is_ignored_with_a_short_reason(name, text, reason):
    good_name, good_key = ("seed", "seed_key") if name == "mix" else ("mix", "mix_key")
    values, notices = parse_query(PARAMS, {name: text, good_name: "20"})
    assert values == {good_key: 20}  # the good parameter still applies
    assert len(notices) == 1 and notices[0].startswith(f"{name}=") and reason in notices[0]
    assert len(notices[0]) < 120  # a long hostile value is cut, not echoed whole


def test_empty_list_items_are_skipped():
    assert parse_query(PARAMS, {"classes": "1,,2,"}) == ({"classes_key": [1, 2]}, [])
