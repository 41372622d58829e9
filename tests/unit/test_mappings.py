"""Mapping files: built-in defaults, key-by-key overrides, and mistakes located in the right file."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthsync.errors import MappingError
from healthsync.mappings import load_mapping


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_builtin_mappings_load(crm: str) -> None:
    mapping = load_mapping(crm)  # type: ignore[arg-type]
    assert mapping.output_field("score")
    assert mapping.input_field("contract_end")
    assert set(mapping.deals.stages) == {
        "Preparation",
        "Initiation",
        "Negotiation",
        "Approval",
        "Renewed",
        "Churned",
    }


def test_a_user_file_overrides_key_by_key(tmp_path: Path) -> None:
    user = tmp_path / "mapping.toml"
    user.write_text('[account.inputs]\narr = "Annual_Contract_Value__c"\n[account.outputs]\ntrend = ""\n')
    mapping = load_mapping("salesforce", user)
    assert mapping.input_field("arr") == "Annual_Contract_Value__c"
    assert mapping.input_field("licenses") == "Licenses__c"  # inherited
    assert mapping.output_field("trend") is None  # turned off
    assert mapping.sources[-1] == str(user)


def test_mistakes_are_located_in_the_user_file(tmp_path: Path) -> None:
    user = tmp_path / "mapping.toml"
    user.write_text(
        "[account.inputs]\n"
        'contract_ends = "End__c"\n'  # line 2: typo
        "[account.transforms]\n"
        'band = "enum:colours"\n'  # line 4: undefined enum
        'score = "round"\n'  # line 5: unknown transform
        "[tasks]\n"
        "key_field = 42\n"  # line 7: wrong type
        "[deals.stages]\n"
        'Renewd = "Won"\n'  # line 9: unknown stage
    )
    with pytest.raises(MappingError) as info:
        load_mapping("salesforce", user)
    text = str(info.value)
    assert f"{user}:7: tasks.key_field: Input should be a valid string" in text
    user.write_text(user.read_text().replace("key_field = 42", 'key_field = "K__c"'))
    with pytest.raises(MappingError) as info:
        load_mapping("salesforce", user)
    text = str(info.value)
    assert (
        f"{user}:2: account.inputs.contract_ends: unknown input 'contract_ends' (fix: did you mean 'contract_end'?)"
        in text
    )
    assert f"{user}:4: account.transforms.band: enum map 'colours' is not defined" in text
    assert f"{user}:5: account.transforms.score: unknown transform 'round'" in text
    assert (
        f"{user}:9: deals.stages.Renewd: unknown renewal stage 'Renewd' (fix: did you mean 'Renewed'?)"
        in text
    )


def test_closed_stage_consistency_is_checked(tmp_path: Path) -> None:
    user = tmp_path / "mapping.toml"
    user.write_text('[deals.stages]\nRenewed = "Renewed - Won"\n')
    with pytest.raises(MappingError, match="must be one of closed_stages"):
        load_mapping("hubspot", user)


def test_the_readme_example_mapping_loads_and_overrides_the_defaults() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "mapping-salesforce.toml"
    mapping = load_mapping("salesforce", example)
    assert mapping.account.inputs["customer_key"] == "Customer_Number__c"
    assert mapping.enums["band"] == {"green": "Healthy", "yellow": "Watch", "red": "At risk"}
    assert mapping.tasks.key_field == "Healthsync_Key__c"  # kept from the built-in file
