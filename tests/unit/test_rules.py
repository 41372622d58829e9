"""Rule files: the data model, the built-in table, and one test per validation error.

Each error test asserts what a user needs to fix the file without guessing: the file name, the
line, the key and the rule id.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from healthsync.errors import ConfigError, ConfigProblem
from healthsync.model import Band
from healthsync.scoring.conditions import Condition, overlap
from healthsync.scoring.rules import Bands, RuleSet, default_rules, load_rules, parse_rules
from healthsync.scoring.templates import ReasonTemplate, TemplateError
from healthsync.tomlsource import parse_toml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

GOOD_RULE = """\
[[rule]]
id = "login_high"
signal = "login_days_30d"
when = { gt = 15 }
points = 30
reason = "Logged in on {value} days"
"""


def problems_of(tmp_path: Path, text: str, name: str = "rules.toml") -> list[ConfigProblem]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}: invalid rule file")
    return caught.value.problems


def only_problem(tmp_path: Path, text: str) -> ConfigProblem:
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def assert_located(
    problem: ConfigProblem, tmp_path: Path, *, line: int, key: str, rule_id: str | None
) -> None:
    text = str(problem)
    assert problem.source == str(tmp_path / "rules.toml")
    assert text.startswith(f"{tmp_path / 'rules.toml'}:{line}: {key}: ")
    assert problem.line == line
    assert problem.key == key
    if rule_id is not None:
        assert f"rule '{rule_id}'" in problem.message


# --- the built-in rules --------------------------------------------------------------------------


def test_default_rules_reproduce_the_reference_table() -> None:
    rules = default_rules()
    table = {(r.id, r.signal, r.when.describe(), r.points) for r in rules.rules}
    assert table == {
        ("login_high", "login_days_30d", "> 15", 30),
        ("login_medium", "login_days_30d", "5–15", 15),
        ("login_low", "login_days_30d", "< 5", 0),
        ("active_users_high", "active_user_ratio", "> 0.5", 20),
        ("no_critical_tickets", "open_critical_tickets", "= 0", 15),
        ("critical_ticket_stale", "oldest_critical_ticket_age_days", "> 7", -20),
        ("nps_promoter", "last_nps", "9–10", 20),
        ("nps_passive", "last_nps", "7–8", 0),
        ("nps_detractor", "last_nps", "0–6", -15),
        ("payments_on_time", "payments_on_time_6m", "= true", 15),
    }
    assert rules.bands == Bands(green=70, yellow=40)
    assert rules.segments == {}


def test_default_rules_version_carries_a_content_hash() -> None:
    version = default_rules().rules_version
    name, _, digest = version.partition("+")
    assert name == "builtin-1"
    assert len(digest) == 8
    assert int(digest, 16) >= 0


def test_version_hash_changes_with_content_and_defaults_to_unversioned() -> None:
    a = parse_rules(parse_toml(GOOD_RULE, "a.toml"))
    b = parse_rules(parse_toml(GOOD_RULE.replace("points = 30", "points = 31"), "b.toml"))
    assert a.version is None
    assert a.rules_version.startswith("unversioned+")
    assert a.digest != b.digest


def test_enterprise_example_loads() -> None:
    rules = load_rules(EXAMPLES / "rules-enterprise.toml")
    assert rules.version == "2026.1-enterprise"
    assert set(rules.segments) == {"smb", "enterprise"}
    enterprise = rules.for_segment("enterprise")
    assert enterprise.bands == Bands(green=75, yellow=50)
    assert "extra.executive_sponsor" in enterprise.signals
    stale = next(r for r in enterprise.rules if r.id == "critical_ticket_stale")
    assert stale.weighted_points == -25


# --- the data model ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, Band.RED),
        (39.9, Band.RED),
        (40, Band.YELLOW),
        (69.9, Band.YELLOW),
        (70, Band.GREEN),
        (100, Band.GREEN),
    ],
)
def test_bands_are_inclusive_lower_bounds(score: float, band: Band) -> None:
    assert Bands().band_for(score) is band


@pytest.mark.parametrize(
    ("condition", "yes", "no", "text"),
    [
        (Condition("gt", 15), [16, 15.5], [15, 0], "> 15"),
        (Condition("gte", 15), [15], [14.9], "≥ 15"),
        (Condition("lt", 5), [4], [5], "< 5"),
        (Condition("lte", 0.5), [0.5], [0.51], "≤ 0.5"),
        (Condition("eq", 0), [0, 0.0], [1, False], "= 0"),
        (Condition("eq", True), [True], [1, False], "= true"),
        (Condition("eq", "gold"), ["gold"], ["Gold", 1], '= "gold"'),
        (Condition("between", (5, 15)), [5, 15, 10], [4, 16, True], "5–15"),
        (Condition("in", (9, 10)), [9, 10], [8, 9.5], "in {9, 10}"),
    ],
)
def test_condition_matches_and_describes(
    condition: Condition, yes: list[object], no: list[object], text: str
) -> None:
    assert all(condition.matches(v) for v in yes)  # type: ignore[arg-type]
    assert not any(condition.matches(v) for v in no)  # type: ignore[arg-type]
    assert condition.describe() == text


@pytest.mark.parametrize(
    ("a", "b", "integer", "expected"),
    [
        (Condition("gt", 15), Condition("between", (10, 20)), True, "16–20"),
        (Condition("gt", 15), Condition("between", (5, 15)), True, None),
        (Condition("gt", 15), Condition("lt", 16), True, None),
        (Condition("gt", 15), Condition("lt", 16), False, "> 15 and < 16"),
        (Condition("gte", 0.5), Condition("lte", 0.5), False, "0.5"),
        (Condition("gt", 0.5), Condition("lte", 0.5), False, None),
        (Condition("in", (9, 10)), Condition("eq", 9), True, "9"),
        (Condition("in", (9, 10)), Condition("gte", 10), True, "10"),
        (Condition("eq", True), Condition("eq", False), False, None),
        (Condition("lt", 5), Condition("lt", 3), True, "≤ 2"),
    ],
)
def test_overlap_treats_conditions_as_intervals_and_point_sets(
    a: Condition, b: Condition, integer: bool, expected: str | None
) -> None:
    assert overlap(a, b, integer=integer) == expected
    assert overlap(b, a, integer=integer) == expected


def test_reason_template_substitutes_with_format_specs() -> None:
    template = ReasonTemplate.parse(
        "{value:.0%} used ({threshold:.0%}), {points:+g} via {signal} {{literal}}"
    )
    text = template.render(
        value=0.55, points=20.0, condition=Condition("gt", 0.5), signal="active_user_ratio"
    )
    assert text == "55% used (50%), +20 via active_user_ratio {literal}"


@pytest.mark.parametrize(("age", "shown"), [(7.1, "7"), (7.5, "7"), (7.99, "7"), (8.0, "8"), (12, "12")])
def test_floor_shows_whole_days_without_rounding_up(age: float, shown: str) -> None:
    # Rounding 7.5 up to 8 would change a reason written to the CRM half-way through a day.
    template = ReasonTemplate.parse("open for {value:floor} days")
    assert (
        template.render(value=age, points=-20, condition=Condition("gt", 7), signal="x")
        == f"open for {shown} days"
    )


def test_floor_on_text_is_refused_when_the_rule_file_loads() -> None:
    template = ReasonTemplate.parse("{value:floor}")
    with pytest.raises(TemplateError, match="floor"):
        template.check(sample="text", points=1, condition=Condition("eq", "text"), signal="segment")


def test_reason_template_renders_ranges_and_sets() -> None:
    between = ReasonTemplate.parse("{value} in {threshold}")
    assert (
        between.render(value=7, points=0, condition=Condition("between", (5, 15)), signal="s") == "7 in 5–15"
    )
    in_set = ReasonTemplate.parse("{threshold}")
    assert in_set.render(value=9, points=0, condition=Condition("in", (9, 10)), signal="s") == "9, 10"


def test_reason_template_ignores_a_spec_that_does_not_fit_the_actual_value() -> None:
    template = ReasonTemplate.parse("{value:.1f}")
    assert template.render(value="gold", points=0, condition=Condition("eq", "gold"), signal="s") == "gold"


@pytest.mark.parametrize(
    "text", ["{value.__class__}", "{value!r}", "{value[0]}", "{0}", "{}", "{value", "a } b"]
)
def test_reason_template_refuses_anything_but_the_four_placeholders(text: str) -> None:
    with pytest.raises(TemplateError):
        ReasonTemplate.parse(text)


def test_for_segment_is_case_insensitive_and_unknown_segments_get_defaults() -> None:
    rules = load_rules(EXAMPLES / "rules-enterprise.toml")
    for name in ("enterprise", "Enterprise", " ENTERPRISE "):
        assert rules.for_segment(name).segment == "enterprise"
    for name in (None, "", "mid-market"):
        effective = rules.for_segment(name)
        assert effective.segment is None
        assert effective.rules == rules.rules
        assert effective.bands == rules.bands


def test_weights_multiply_points_without_changing_the_rule_set() -> None:
    rules = load_rules(EXAMPLES / "rules-enterprise.toml")
    smb = {r.id: r.weighted_points for r in rules.for_segment("smb").rules}
    assert smb["payments_on_time"] == 7.5
    assert smb["login_high"] == 30
    assert {r.id: r.weighted_points for r in rules.rules}["payments_on_time"] == 15


def test_stacked_rules_on_different_signals_are_fine() -> None:
    rules = default_rules()
    assert isinstance(rules, RuleSet)
    assert {"open_critical_tickets", "oldest_critical_ticket_age_days"} <= set(
        rules.for_segment(None).signals
    )


# --- validation: one test per error kind ---------------------------------------------------------


def test_unknown_signal_suggests_the_closest(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace('"login_days_30d"', '"login_days_30"'))
    assert_located(problem, tmp_path, line=3, key="rule[0].signal", rule_id="login_high")
    assert "unknown signal 'login_days_30'" in problem.message
    assert problem.fix is not None
    assert "did you mean 'login_days_30d'?" in problem.fix
    assert "last_nps" in problem.fix


def test_unknown_operator(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{ gt = 15 }", "{ gtt = 15 }"))
    assert_located(problem, tmp_path, line=4, key="rule[0].when.gtt", rule_id="login_high")
    assert "unknown operator 'gtt'" in problem.message
    assert problem.fix is not None
    assert "did you mean 'gt'?" in problem.fix


def test_no_operator(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{ gt = 15 }", "{}"))
    assert_located(problem, tmp_path, line=4, key="rule[0].when", rule_id="login_high")
    assert "no operator" in problem.message


def test_two_operators(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{ gt = 15 }", "{ gt = 5, lt = 15 }"))
    assert_located(problem, tmp_path, line=4, key="rule[0].when", rule_id="login_high")
    assert "2 operators (gt, lt)" in problem.message
    assert problem.fix is not None
    assert "between" in problem.fix


def test_text_where_a_number_is_needed(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{ gt = 15 }", '{ gt = "x" }'))
    assert_located(problem, tmp_path, line=4, key="rule[0].when.gt", rule_id="login_high")
    assert 'gt on login_days_30d needs a whole number; got "x"' in problem.message


def test_quoted_number_gets_a_remove_the_quotes_fix(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{ gt = 15 }", '{ gt = "15" }'))
    assert problem.fix == "remove the quotes: gt = 15"


def test_bool_where_a_number_is_needed(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{ gt = 15 }", "{ eq = true }"))
    assert_located(problem, tmp_path, line=4, key="rule[0].when.eq", rule_id="login_high")
    assert "got true" in problem.message


@pytest.mark.parametrize("value", ["[5]", "[5, 10, 15]", '[5, "x"]', "5"])
def test_between_needs_two_numbers(tmp_path: Path, value: str) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{ gt = 15 }", f"{{ between = {value} }}"))
    assert_located(problem, tmp_path, line=4, key="rule[0].when.between", rule_id="login_high")
    assert "between on login_days_30d needs [low, high]" in problem.message


def test_between_low_above_high(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{ gt = 15 }", "{ between = [15, 5] }"))
    assert_located(problem, tmp_path, line=4, key="rule[0].when.between", rule_id="login_high")
    assert "low end above its high end" in problem.message
    assert problem.fix == "write between = [5, 15]"


def test_in_needs_a_non_empty_list(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{ gt = 15 }", "{ in = [] }"))
    assert_located(problem, tmp_path, line=4, key="rule[0].when.in", rule_id="login_high")
    assert "non-empty list" in problem.message


def test_order_operator_on_a_yes_no_signal(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("login_days_30d", "payments_on_time_6m").replace("{ gt = 15 }", "{ gte = 1 }")
    problem = only_problem(tmp_path, text)
    assert_located(problem, tmp_path, line=4, key="rule[0].when.gte", rule_id="login_high")
    assert "payments_on_time_6m is yes/no; only eq or in apply, not gte" in problem.message


def test_duplicate_rule_id(tmp_path: Path) -> None:
    text = GOOD_RULE + "\n" + GOOD_RULE.replace("login_days_30d", "last_nps").replace("15", "8")
    problem = only_problem(tmp_path, text)
    assert_located(problem, tmp_path, line=9, key="rule[1].id", rule_id="login_high")
    assert "duplicate id, already used by the rule at line 1" in problem.message


@pytest.mark.parametrize(
    ("drop", "missing"),
    [
        ("points = 30\n", "points"),
        ('reason = "Logged in on {value} days"\n', "reason"),
        ("when = { gt = 15 }\n", "when"),
    ],
)
def test_missing_rule_key(tmp_path: Path, drop: str, missing: str) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace(drop, ""))
    assert_located(problem, tmp_path, line=1, key="rule[0]", rule_id="login_high")
    assert f"missing {missing}" in problem.message


def test_missing_id_says_the_rule_has_none(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace('id = "login_high"\n', ""))
    assert_located(problem, tmp_path, line=1, key="rule[0]", rule_id=None)
    assert problem.message == "rule without an id: missing id"


def test_unknown_key_in_a_rule(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE + 'descripton = "x"\n')
    assert_located(problem, tmp_path, line=7, key="rule[0].descripton", rule_id="login_high")
    assert "unknown key 'descripton'" in problem.message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "[band]\ngreen = 70\n\n" + GOOD_RULE)
    assert_located(problem, tmp_path, line=1, key="band", rule_id=None)
    assert problem.fix == "did you mean 'bands'?"


def test_points_must_be_a_number(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("points = 30", 'points = "30"'))
    assert_located(problem, tmp_path, line=5, key="rule[0].points", rule_id="login_high")


def test_version_must_be_text(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "version = 2026.1\n" + GOOD_RULE)
    assert_located(problem, tmp_path, line=1, key="version", rule_id=None)
    assert problem.fix == 'quote it: version = "2026.1"'


def test_reason_with_unknown_placeholder(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{value}", "{valeu}"))
    assert_located(problem, tmp_path, line=6, key="rule[0].reason", rule_id="login_high")
    assert "unknown placeholder {valeu} (did you mean {value}?)" in problem.message


def test_reason_with_attribute_access_is_refused(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{value}", "{value.__class__}"))
    assert_located(problem, tmp_path, line=6, key="rule[0].reason", rule_id="login_high")
    assert "unknown placeholder {value.__class__}" in problem.message


def test_reason_with_a_format_spec_that_cannot_apply(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{value}", "{signal:.2f}"))
    assert_located(problem, tmp_path, line=6, key="rule[0].reason", rule_id="login_high")
    assert "format spec ':.2f' does not fit {signal}" in problem.message


def test_reason_with_a_stray_brace(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE.replace("{value} days", "{value} days }"))
    assert_located(problem, tmp_path, line=6, key="rule[0].reason", rule_id="login_high")
    assert "single '}'" in problem.message


def test_overlapping_conditions_on_one_signal(tmp_path: Path) -> None:
    second = GOOD_RULE.replace("login_high", "login_mid").replace("{ gt = 15 }", "{ between = [10, 20] }")
    problem = only_problem(tmp_path, GOOD_RULE + "\n" + second)
    assert_located(problem, tmp_path, line=11, key="rule[1].when", rule_id="login_mid")
    assert "overlaps rule 'login_high' (login_days_30d > 15, line 1)" in problem.message
    assert "both would fire for 16–20" in problem.message
    assert problem.fix is not None
    assert "one unambiguous reading per signal" in problem.fix


def test_contradictory_duplicate_conditions(tmp_path: Path) -> None:
    second = GOOD_RULE.replace("login_high", "login_again").replace("points = 30", "points = -30")
    problem = only_problem(tmp_path, GOOD_RULE + "\n" + second)
    assert_located(problem, tmp_path, line=11, key="rule[1].when", rule_id="login_again")
    assert "both would fire for ≥ 16" in problem.message


def test_overlapping_point_sets(tmp_path: Path) -> None:
    nps = GOOD_RULE.replace("login_days_30d", "last_nps")
    first = nps.replace("{ gt = 15 }", "{ in = [9, 10] }")
    second = nps.replace("login_high", "nps_ten").replace("{ gt = 15 }", "{ eq = 10 }")
    problem = only_problem(tmp_path, first + "\n" + second)
    assert_located(problem, tmp_path, line=11, key="rule[1].when", rule_id="nps_ten")
    assert "both would fire for 10" in problem.message


def test_adjacent_conditions_on_a_count_do_not_overlap(tmp_path: Path) -> None:
    second = GOOD_RULE.replace("login_high", "login_mid").replace("{ gt = 15 }", "{ lt = 16 }")
    path = tmp_path / "rules.toml"
    path.write_text(GOOD_RULE + "\n" + second, encoding="utf-8")
    assert [r.id for r in load_rules(path).rules] == ["login_high", "login_mid"]


def test_custom_input_read_as_two_kinds(tmp_path: Path) -> None:
    extra = GOOD_RULE.replace("login_days_30d", "extra.tier")
    first = extra.replace("{ gt = 15 }", '{ eq = "gold" }')
    second = extra.replace("login_high", "tier_big")
    problem = only_problem(tmp_path, first + "\n" + second)
    assert_located(problem, tmp_path, line=11, key="rule[1].when", rule_id="tier_big")
    assert "reads extra.tier as number but rule 'login_high' (line 1) reads it as str" in problem.message


@pytest.mark.parametrize(("green", "yellow"), [(40, 70), (50, 50)])
def test_bands_yellow_not_below_green(tmp_path: Path, green: int, yellow: int) -> None:
    problem = only_problem(tmp_path, f"[bands]\ngreen = {green}\nyellow = {yellow}\n\n" + GOOD_RULE)
    assert_located(problem, tmp_path, line=3, key="bands.yellow", rule_id=None)
    assert f"yellow starts at {yellow}, not below green ({green})" in problem.message


@pytest.mark.parametrize("value", ["101", "-1", '"70"', "true"])
def test_band_outside_0_to_100(tmp_path: Path, value: str) -> None:
    problem = only_problem(tmp_path, f"[bands]\ngreen = {value}\n\n" + GOOD_RULE)
    assert_located(problem, tmp_path, line=2, key="bands.green", rule_id=None)
    assert "green must be a score from 0 to 100" in problem.message


def test_unknown_band_key(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "[bands]\nred = 10\n\n" + GOOD_RULE)
    assert_located(problem, tmp_path, line=2, key="bands.red", rule_id=None)
    assert problem.fix == "red is every score below yellow; remove it"


def test_weight_for_an_unknown_rule(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE + "\n[segments.enterprise]\nweights = { login_hihg = 0.5 }\n")
    assert_located(
        problem, tmp_path, line=9, key="segments.enterprise.weights.login_hihg", rule_id="login_hihg"
    )
    assert problem.fix == "did you mean 'login_high'?"


def test_weight_must_not_be_negative(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE + "\n[segments.enterprise]\nweights = { login_high = -1 }\n")
    assert_located(
        problem, tmp_path, line=9, key="segments.enterprise.weights.login_high", rule_id="login_high"
    )
    assert "negative" in problem.message


def test_weights_refer_to_the_segments_own_rules(tmp_path: Path) -> None:
    own = GOOD_RULE.replace("[[rule]]", "[[segments.big.rule]]").replace("login_high", "big_login")
    text = GOOD_RULE + "\n[segments.big]\nweights = { login_high = 2 }\n\n" + own
    problem = only_problem(tmp_path, text)
    assert_located(problem, tmp_path, line=9, key="segments.big.weights.login_high", rule_id="login_high")
    assert "segment 'big's own rules" in problem.message


def test_unknown_segment_key(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE + "\n[segments.enterprise]\nweigths = { login_high = 2 }\n")
    assert_located(problem, tmp_path, line=9, key="segments.enterprise.weigths", rule_id=None)
    assert problem.fix == "did you mean 'weights'?"


def test_segment_bands_checked_against_inherited_ones(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, GOOD_RULE + "\n[segments.enterprise.bands]\ngreen = 30\n")
    assert_located(problem, tmp_path, line=9, key="segments.enterprise.bands.green", rule_id=None)
    assert "inherited from [bands]" in problem.message


def test_segment_names_differing_only_in_case(tmp_path: Path) -> None:
    text = GOOD_RULE + "\n[segments.smb]\nweights = {}\n[segments.SMB]\nweights = {}\n"
    problem = only_problem(tmp_path, text)
    assert_located(problem, tmp_path, line=10, key="segments.SMB", rule_id=None)


def test_segment_replacement_rules_are_validated_too(tmp_path: Path) -> None:
    own = GOOD_RULE.replace("[[rule]]", "[[segments.big.rule]]").replace("login_days_30d", "nps")
    problem = only_problem(tmp_path, GOOD_RULE + "\n" + own)
    assert_located(problem, tmp_path, line=10, key="segments.big.rule[0].signal", rule_id="login_high")


def test_a_file_without_rules(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, 'version = "1"\n')
    assert problem.key == "rule"
    assert problem.fix == "add at least one [[rule]] table"


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(GOOD_RULE + "points = = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert caught.value.problems[0].line == 7


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_rules("/nonexistent/rules.toml")


def test_several_problems_are_all_reported_in_line_order(tmp_path: Path) -> None:
    text = """\
version = 3
[bands]
green = 40
yellow = 60

[[rule]]
id = "a"
signal = "login_dayz"
when = { gt = 1 }
points = 1
reason = "x"

[[rule]]
id = "b"
signal = "last_nps"
when = { between = [9, 1] }
points = "1"
reason = "{nope}"
"""
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.key) for p in problems] == [
        (1, "version"),
        (4, "bands.yellow"),
        (8, "rule[0].signal"),
        (16, "rule[1].when.between"),
        (17, "rule[1].points"),
        (18, "rule[1].reason"),
    ]
    assert all(p.source.endswith("rules.toml") for p in problems)
    assert "rule 'a'" in problems[2].message
    assert all("rule 'b'" in p.message for p in problems[3:])
