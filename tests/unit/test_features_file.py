"""Features files for `healthsync rules test`: JSON and CSV read alike, and every mistake is located."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from healthsync.errors import ConfigError, ConfigProblem
from healthsync.model import Features
from healthsync.scoring.features_file import load_features
from healthsync.scoring.registry import INPUT_FEATURES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

ACCOUNTS = [
    {
        "account": "Acme",
        "segment": "enterprise",
        "login_days_30d": 12,
        "active_users": 30,
        "licenses": 40,
        "open_critical_tickets": 1,
        "oldest_critical_ticket_age_days": 8.5,
        "last_nps": 9,
        "payments_on_time_6m": True,
        "usage_change_14d": -0.25,
        "seat_growth": -2,
        "days_since_contract_start": 300,
        "days_to_contract_end": 65,
        "extra.executive_sponsor": True,
        "extra.tier": "gold",
        "extra.modules": 3,
    },
    {"account": "Beta", "login_days_30d": 0, "payments_on_time_6m": False, "extra.modules": 1.5},
]

CSV = """\
account,segment,login_days_30d,active_users,licenses,open_critical_tickets,oldest_critical_ticket_age_days,\
last_nps,payments_on_time_6m,usage_change_14d,seat_growth,days_since_contract_start,days_to_contract_end,\
extra.executive_sponsor,extra.tier,extra.modules
Acme,enterprise,12,30,40,1,8.5,9,true,-0.25,-2,300,65,yes,gold,3
Beta,,0,,,,,,FALSE,,,,,,,1.5
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_features(path)
    assert str(caught.value).startswith(f"{path}: invalid features file")
    assert all(p.source == str(path) for p in caught.value.problems)
    return caught.value.problems


def only_problem(path: Path) -> ConfigProblem:
    problems = problems_of(path)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def json_file(tmp_path: Path, accounts: object) -> Path:
    return write(tmp_path, "features.json", json.dumps(accounts, indent=2))


def csv_file(tmp_path: Path, text: str) -> Path:
    return write(tmp_path, "features.csv", text)


# --- happy paths ---------------------------------------------------------------------------------


def test_json_and_csv_read_the_same_features(tmp_path: Path) -> None:
    from_json = load_features(json_file(tmp_path, ACCOUNTS))
    from_csv = load_features(csv_file(tmp_path, CSV))
    assert from_json == from_csv
    acme, beta = from_json
    assert acme == Features(
        account="Acme",
        segment="enterprise",
        login_days_30d=12,
        active_users=30,
        licenses=40,
        open_critical_tickets=1,
        oldest_critical_ticket_age_days=8.5,
        last_nps=9,
        payments_on_time_6m=True,
        usage_change_14d=-0.25,
        seat_growth=-2,
        days_since_contract_start=300,
        days_to_contract_end=65,
        extra={"executive_sponsor": True, "tier": "gold", "modules": 3},
    )
    assert beta == Features(
        account="Beta", login_days_30d=0, payments_on_time_6m=False, extra={"modules": 1.5}
    )


def test_json_accepts_a_bare_list_or_an_accounts_object(tmp_path: Path) -> None:
    bare = load_features(json_file(tmp_path, ACCOUNTS))
    wrapped = load_features(write(tmp_path, "wrapped.json", json.dumps({"accounts": ACCOUNTS})))
    assert bare == wrapped


def test_null_and_absent_mean_no_data(tmp_path: Path) -> None:
    (features,) = load_features(json_file(tmp_path, [{"account": "A", "last_nps": None, "segment": None}]))
    assert features == Features(account="A")


def test_json_whole_floats_are_accepted_for_counts(tmp_path: Path) -> None:
    (features,) = load_features(json_file(tmp_path, [{"account": "A", "licenses": 20.0}]))
    assert features.licenses == 20
    assert isinstance(features.licenses, int)


@pytest.mark.parametrize(
    ("cell", "value"),
    [("true", True), ("TRUE", True), ("Yes", True), ("1", True),
     ("false", False), ("no", False), ("0", False), ("", None), ("  ", None)],
)  # fmt: skip
def test_csv_yes_no_spellings(tmp_path: Path, cell: str, value: bool | None) -> None:
    (features,) = load_features(csv_file(tmp_path, f"account,payments_on_time_6m\nA,{cell}\n"))
    assert features.payments_on_time_6m is value


def test_csv_tolerates_a_byte_order_mark_spaces_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "features.csv"
    path.write_bytes("\ufeffaccount , last_nps\n Acme , 9 \n\n,\nBeta,\n".encode())
    assert load_features(path) == [Features("Acme", last_nps=9), Features("Beta")]


def test_csv_quoted_account_names(tmp_path: Path) -> None:
    (features,) = load_features(csv_file(tmp_path, 'account,licenses\n"Acme, Inc.",5\n'))
    assert features.account == "Acme, Inc."


def test_example_file_loads() -> None:
    accounts = {f.account: f for f in load_features(EXAMPLES / "features.json")}
    assert len(accounts) == 8
    assert accounts["Pied Piper"].last_nps is None
    assert accounts["Wayne Enterprises"].segment == "enterprise"
    assert accounts["Wayne Enterprises"].extra == {"executive_sponsor": True}


def test_every_input_feature_has_a_kind_and_a_description() -> None:
    for name, signal in INPUT_FEATURES.items():
        assert signal.name == name
        assert signal.kind in ("int", "number", "bool", "ratio", "str")
        assert signal.description.endswith(".")
        assert hasattr(Features, name)


# --- file-level problems -------------------------------------------------------------------------


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "features.json", '[\n  {"account": "A",}\n]\n')
    problem = only_problem(path)
    assert problem.line == 2
    assert "not valid JSON" in problem.message
    assert str(problem).startswith(f"{path}:2: not valid JSON")


@pytest.mark.parametrize("name", ["features.json", "features.csv"])
@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_empty_file(tmp_path: Path, name: str, text: str) -> None:
    problem = only_problem(write(tmp_path, name, text))
    assert problem.message == "file is empty"


@pytest.mark.parametrize(
    ("name", "text"), [("f.json", "[]"), ("f.json", '{"accounts": []}'), ("f.csv", "account\n")]
)
def test_no_accounts(tmp_path: Path, name: str, text: str) -> None:
    assert only_problem(write(tmp_path, name, text)).message == "no accounts in the file"


def test_unsupported_extension(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "features.xlsx", "x"))
    assert "unsupported file type '.xlsx'" in problem.message
    assert problem.fix == "use a .json or .csv file"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_features(tmp_path / "nope.json")


@pytest.mark.parametrize("data", ['{"account": "A"}', '"A"', '{"accounts": 3}'])
def test_json_of_the_wrong_shape(tmp_path: Path, data: str) -> None:
    problems = problems_of(write(tmp_path, "f.json", data))
    assert any("expected a list of accounts" in p.message for p in problems)


def test_json_entry_that_is_not_an_object(tmp_path: Path) -> None:
    problem = only_problem(json_file(tmp_path, {"accounts": [{"account": "A"}, 5]}))
    assert problem.key == "accounts[1]"
    assert "expected an object" in problem.message


# --- record problems: JSON locates by [index] and account name, CSV by line ----------------------


@pytest.mark.parametrize("account", [None, "", "  "])
def test_json_missing_account(tmp_path: Path, account: str | None) -> None:
    problem = only_problem(json_file(tmp_path, [{"account": "A"}, {"account": account, "last_nps": 3}]))
    assert problem.key == "[1].account"
    assert problem.message == "missing account"


def test_json_account_without_the_key(tmp_path: Path) -> None:
    problem = only_problem(json_file(tmp_path, [{"last_nps": 3}]))
    assert problem.key == "[0].account"


def test_csv_missing_account_cell(tmp_path: Path) -> None:
    problem = only_problem(csv_file(tmp_path, "account,last_nps\nA,3\n,4\n"))
    assert (problem.line, problem.key, problem.message) == (3, "account", "missing account")


def test_csv_without_an_account_column(tmp_path: Path) -> None:
    problems = problems_of(csv_file(tmp_path, "name;last_nps\nA;3\n"))
    problem = next(p for p in problems if p.key == "account")
    assert problem.line == 1
    assert problem.message == "the header row has no 'account' column"
    assert problem.fix == "use commas between columns"


def test_duplicate_account(tmp_path: Path) -> None:
    problem = only_problem(json_file(tmp_path, [{"account": "A"}, {"account": "B"}, {"account": "A"}]))
    assert problem.key == "[2].account"
    assert "account 'A' appears twice (also at [0])" in problem.message
    problem = only_problem(csv_file(tmp_path, "account\nA\nB\nA\n"))
    assert problem.line == 4
    assert "(also at line 2)" in problem.message


def test_json_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    problem = only_problem(json_file(tmp_path, [{"account": "Acme", "licences": 20}]))
    assert problem.key == "[0].licences"
    assert problem.message == "account 'Acme': unknown key 'licences'"
    assert problem.fix == "did you mean 'licenses'?"


def test_csv_unknown_column_is_reported_once(tmp_path: Path) -> None:
    problem = only_problem(csv_file(tmp_path, "account,last_nsp\nA,1\nB,2\n"))
    assert (problem.line, problem.key) == (1, "last_nsp")
    assert problem.fix == "did you mean 'last_nps'?"


def test_derived_signals_cannot_be_set(tmp_path: Path) -> None:
    problem = only_problem(json_file(tmp_path, [{"account": "A", "active_user_ratio": 0.5}]))
    assert "unknown key 'active_user_ratio'" in problem.message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("login_days_30d", "12", 'login_days_30d must be a whole number, got "12" (text)'),
        ("login_days_30d", 12.5, "login_days_30d must be a whole number, got 12.5"),
        ("usage_change_14d", "fast", 'usage_change_14d must be a number, got "fast" (text)'),
        ("payments_on_time_6m", "yes", 'payments_on_time_6m must be true or false, got "yes" (text)'),
        ("payments_on_time_6m", 1, "payments_on_time_6m must be true or false, got 1"),
        ("segment", 3, "segment must be text, got 3"),
        ("extra.tags", ["a"], "extra.tags must be a number, true/false or text, got a list"),
    ],
)
def test_json_wrong_types(tmp_path: Path, key: str, value: object, expected: str) -> None:
    problem = only_problem(json_file(tmp_path, [{"account": "Acme", key: value}]))
    assert problem.key == f"[0].{key}"
    assert problem.message == f"account 'Acme': {expected}"


def test_json_bool_given_for_a_count(tmp_path: Path) -> None:
    problem = only_problem(json_file(tmp_path, [{"account": "Acme", "open_critical_tickets": True}]))
    assert (
        problem.message == "account 'Acme': open_critical_tickets must be a whole number, got true (a yes/no)"
    )


def test_json_quoted_number_gets_a_fix(tmp_path: Path) -> None:
    problem = only_problem(json_file(tmp_path, [{"account": "Acme", "licenses": "20"}]))
    assert problem.fix == "remove the quotes"


@pytest.mark.parametrize(
    ("column", "cell", "expected"),
    [
        ("login_days_30d", "yes", 'login_days_30d must be a whole number, got "yes"'),
        ("licenses", "12.5", 'licenses must be a whole number, got "12.5"'),
        ("usage_change_14d", "n/a", 'usage_change_14d must be a number, got "n/a"'),
        ("usage_change_14d", "nan", 'usage_change_14d must be a number, got "nan"'),
        ("payments_on_time_6m", "maybe", 'payments_on_time_6m must be true or false, got "maybe"'),
    ],
)
def test_csv_wrong_types(tmp_path: Path, column: str, cell: str, expected: str) -> None:
    problem = only_problem(csv_file(tmp_path, f"account,{column}\nAcme,{cell}\n"))
    assert (problem.line, problem.key) == (2, column)
    assert problem.message == f"account 'Acme': {expected}"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("last_nps", 11, "last_nps must be between 0 and 10, got 11"),
        ("last_nps", -1, "last_nps must be between 0 and 10, got -1"),
        ("login_days_30d", 31, "login_days_30d must be between 0 and 30, got 31"),
        (
            "open_critical_tickets",
            -1,
            "open_critical_tickets must be 0 or more (it cannot be negative), got -1",
        ),
        ("licenses", -5, "licenses must be 0 or more (it cannot be negative), got -5"),
        ("oldest_critical_ticket_age_days", -0.5, "must be 0 or more (it cannot be negative), got -0.5"),
        ("usage_change_14d", -1.5, "usage_change_14d must be at least -1, got -1.5"),
    ],
)
def test_values_out_of_range(tmp_path: Path, key: str, value: float, expected: str) -> None:
    problem = only_problem(json_file(tmp_path, [{"account": "Acme", key: value}]))
    assert problem.key == f"[0].{key}"
    assert expected in problem.message
    assert problem.message.startswith("account 'Acme': ")


def test_csv_nps_out_of_range_names_the_line(tmp_path: Path) -> None:
    problem = only_problem(csv_file(tmp_path, "account,last_nps\nA,9\nB,12\n"))
    expected = "last_nps: account 'B': last_nps must be between 0 and 10, got \"12\""
    assert str(problem) == f"{tmp_path / 'features.csv'}:3: {expected}"


def test_csv_row_longer_than_the_header(tmp_path: Path) -> None:
    problem = only_problem(csv_file(tmp_path, "account,last_nps\nAcme, Inc.,9\n"))
    assert problem.line == 2
    assert "row has 3 cells but the header has 2" in problem.message


def test_csv_header_problems(tmp_path: Path) -> None:
    problems = problems_of(csv_file(tmp_path, "account,last_nps,,last_nps\nA,1,,1\n"))
    assert [(p.line, p.message) for p in problems] == [
        (1, "column 3 has no name in the header row"),
        (1, "column 'last_nps' appears twice in the header row"),
    ]


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    path = json_file(
        tmp_path,
        [
            {"account": "A", "last_nps": 11, "licenses": -1},
            {"last_nps": 3},
            {"account": "C", "loggins": 3},
            {"account": "A"},
        ],
    )
    assert [p.key for p in problems_of(path)] == [
        "[0].last_nps",
        "[0].licenses",
        "[1].account",
        "[2].loggins",
        "[3].account",
    ]
