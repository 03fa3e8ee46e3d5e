"""The two fingerprints: DESIGN.md golden vectors, an independent re-implementation, properties
and every invalid input the design names."""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Iterable, Mapping, Sequence

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tessera_contracts import (
    ContractError,
    canonical_json,
    compute_feature_schema_sha,
    compute_schema_sha,
)

# --- an independent implementation of DESIGN.md section 2, from the text -------------------


def design_sha(obj: object) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def design_v1(families: Sequence[str]) -> str:
    return design_sha({"feature_families": sorted(families)})


def design_v2(schema: Mapping[str, Sequence[str]]) -> str:
    return design_sha({"feature_schema": {f: sorted(c) for f, c in schema.items()}})


def is_family_name(value: object) -> bool:
    """``^[a-z][a-z0-9_]{0,63}$`` spelled out without a regex."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 64
        and value[0] in string.ascii_lowercase
        and all(c in string.ascii_lowercase + string.digits + "_" for c in value)
    )


CONTROL_CHARS = [chr(c) for c in [*range(0x20), 0x7F]]
FAMILIES = st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True)
COLUMNS = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="".join(CONTROL_CHARS)),
    min_size=1,
    max_size=256,
)


@st.composite
def schemas(draw: st.DrawFn, min_families: int = 1) -> dict[str, list[str]]:
    """Valid schemas: unique families, >= 1 column each, columns unique across the schema."""
    families = draw(st.lists(FAMILIES, min_size=min_families, max_size=5, unique=True))
    columns = draw(st.lists(COLUMNS, min_size=len(families), max_size=12, unique=True))
    schema = {family: [columns[i]] for i, family in enumerate(families)}
    for column in columns[len(families) :]:
        schema[draw(st.sampled_from(families))].append(column)
    return schema


def assert_names(exc: pytest.ExceptionInfo[ContractError], value: object) -> None:
    """The error is one line and quotes the offending value as Python's repr."""
    message = str(exc.value)
    assert "\n" not in message, message
    assert repr(value) in message, f"{value!r} not named in: {message}"


# --- golden vectors ------------------------------------------------------------------------


def test_golden_single_family() -> None:
    assert compute_feature_schema_sha(["knn"]) == "cbf083022a88"


@pytest.mark.parametrize(
    "families",
    [
        ["knn", "annotation_meta", "alignment_nw", "length"],
        ["length", "knn", "alignment_nw", "annotation_meta"],
        ["alignment_nw", "annotation_meta", "knn", "length"],
        ("annotation_meta", "length", "alignment_nw", "knn"),
    ],
)
def test_golden_four_families_any_order(families: Sequence[str]) -> None:
    assert compute_feature_schema_sha(families) == "dbc64e9ffcc9"


def test_golden_schema_sha() -> None:
    schema = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}
    assert compute_schema_sha(schema) == "59d7445eba35"


def test_golden_vectors_hold_for_the_reference_implementation_too() -> None:
    # Guards the reference itself: if it drifted from DESIGN.md the properties below would lie.
    assert design_v1(["knn"]) == "cbf083022a88"
    assert design_v1(["knn", "annotation_meta", "alignment_nw", "length"]) == "dbc64e9ffcc9"
    schema = {"knn": ["knn_score", "knn_votes"], "length": ["query_len", "len_ratio"]}
    assert design_v2(schema) == "59d7445eba35"


# --- the algorithm as written, on generated inputs ------------------------------------------


@given(st.lists(FAMILIES, min_size=1, max_size=8, unique=True))
def test_v1_matches_the_design_text(families: list[str]) -> None:
    assert compute_feature_schema_sha(families) == design_v1(families)


@given(schemas())
def test_v2_matches_the_design_text(schema: dict[str, list[str]]) -> None:
    assert compute_schema_sha(schema) == design_v2(schema)


def test_v2_sorts_by_code_point_and_escapes_non_ascii() -> None:
    # U+FF21 sorts before U+1F600 by code point but after it in UTF-16; ensure_ascii escapes both.
    schema = {"emoji": ["\U0001f600", "\uff21", "Z", "a", "\x80"]}
    assert compute_schema_sha(schema) == design_v2(schema)
    assert canonical_json({"c": sorted(schema["emoji"])}) == (
        b'{"c":["Z","a","\\u0080","\\uff21","\\ud83d\\ude00"]}'
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(json_values)
def test_canonical_json_is_the_design_expression(value: object) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert canonical_json(value) == expected.encode("ascii")


def test_v1_accepts_any_iterable() -> None:
    families = ["knn", "length"]
    expected = design_v1(families)
    assert compute_feature_schema_sha(iter(families)) == expected
    assert compute_feature_schema_sha(tuple(families)) == expected
    assert compute_feature_schema_sha({"knn": 1, "length": 2}.keys()) == expected


def test_v2_accepts_tuples_of_columns() -> None:
    assert compute_schema_sha({"knn": ("knn_votes", "knn_score"), "length": ("query_len",)}) == (
        design_v2({"knn": ["knn_score", "knn_votes"], "length": ["query_len"]})
    )


def test_boundary_lengths_are_accepted() -> None:
    longest_family = "a" + "_" * 63
    assert compute_feature_schema_sha([longest_family]) == design_v1([longest_family])
    schema = {"f": ["x" * 256]}
    assert compute_schema_sha(schema) == design_v2(schema)


@pytest.mark.parametrize("char", ["\x80", "\x9f", "\u2028", "\ufeff", " ", "\U0010fffd"])
def test_only_the_listed_control_characters_are_rejected(char: str) -> None:
    # DESIGN.md forbids U+0000-U+001F and U+007F only; C1 controls and separators are allowed.
    schema = {"f": [f"col{char}name"]}
    assert compute_schema_sha(schema) == design_v2(schema)


# --- order independence ---------------------------------------------------------------------


@given(st.lists(FAMILIES, min_size=1, max_size=8, unique=True), st.randoms())
def test_v1_is_order_independent(families: list[str], rnd: random.Random) -> None:
    shuffled = list(families)
    rnd.shuffle(shuffled)
    assert compute_feature_schema_sha(shuffled) == compute_feature_schema_sha(families)


@given(schemas(), st.randoms())
def test_v2_is_order_independent_within_and_across_families(
    schema: dict[str, list[str]], rnd: random.Random
) -> None:
    families = list(schema)
    rnd.shuffle(families)
    permuted: dict[str, list[str]] = {}
    for family in families:
        columns = list(schema[family])
        rnd.shuffle(columns)
        permuted[family] = columns
    assert compute_schema_sha(permuted) == compute_schema_sha(schema)
    assert compute_feature_schema_sha(permuted) == compute_feature_schema_sha(schema)


# --- any one change changes the fingerprint -------------------------------------------------


@given(st.lists(FAMILIES, min_size=1, max_size=6, unique=True), FAMILIES, st.data())
def test_v1_changes_when_a_family_is_renamed_added_or_removed(
    families: list[str], other: str, data: st.DataObject
) -> None:
    assume(other not in families)
    before = compute_feature_schema_sha(families)
    index = data.draw(st.integers(0, len(families) - 1))
    renamed = [other if i == index else f for i, f in enumerate(families)]
    assert compute_feature_schema_sha(renamed) != before
    assert compute_feature_schema_sha([*families, other]) != before
    if len(families) > 1:
        assert compute_feature_schema_sha(families[:index] + families[index + 1 :]) != before


@given(schemas(), FAMILIES, COLUMNS, st.data())
def test_v2_changes_when_a_family_is_renamed_added_or_removed(
    schema: dict[str, list[str]], new_family: str, new_column: str, data: st.DataObject
) -> None:
    assume(new_family not in schema)
    assume(all(new_column not in cols for cols in schema.values()))
    before = compute_schema_sha(schema)
    victim = data.draw(st.sampled_from(sorted(schema)))
    renamed = {(new_family if f == victim else f): cols for f, cols in schema.items()}
    assert compute_schema_sha(renamed) != before
    assert compute_schema_sha({**schema, new_family: [new_column]}) != before
    if len(schema) > 1:
        assert compute_schema_sha({f: c for f, c in schema.items() if f != victim}) != before


@given(schemas(), COLUMNS, st.data())
def test_v2_changes_when_a_column_is_renamed_added_or_removed(
    schema: dict[str, list[str]], new_column: str, data: st.DataObject
) -> None:
    assume(all(new_column not in cols for cols in schema.values()))
    before_v1, before = compute_feature_schema_sha(schema), compute_schema_sha(schema)
    family = data.draw(st.sampled_from(sorted(schema)))
    index = data.draw(st.integers(0, len(schema[family]) - 1))
    columns = schema[family]

    renamed = {**schema, family: [new_column if i == index else c for i, c in enumerate(columns)]}
    added = {**schema, family: [*columns, new_column]}
    changed = [renamed, added]
    if len(columns) > 1:
        changed.append({**schema, family: columns[:index] + columns[index + 1 :]})
    for other in changed:
        assert compute_schema_sha(other) != before
        assert compute_feature_schema_sha(other) == before_v1  # same families, v1 can't tell


@given(schemas(min_families=2), st.data())
def test_v2_changes_when_a_column_moves_to_another_family(
    schema: dict[str, list[str]], data: st.DataObject
) -> None:
    source = data.draw(st.sampled_from([f for f, cols in schema.items() if len(cols) > 1] or [""]))
    assume(source)
    target = data.draw(st.sampled_from([f for f in schema if f != source]))
    column = data.draw(st.sampled_from(schema[source]))
    moved = {
        **schema,
        source: [c for c in schema[source] if c != column],
        target: [*schema[target], column],
    }
    assert compute_schema_sha(moved) != compute_schema_sha(schema)


# --- invalid input: ContractError naming the offending value --------------------------------

BAD_FAMILY_NAMES: list[object] = [
    "",
    "Knn",
    "kNN",
    "1knn",
    "_knn",
    "knn-score",
    "knn score",
    "knn\n",
    "kné",
    "a" * 65,
    1,
    None,
    b"knn",
    ("knn",),
]


def test_contract_error_is_a_value_error() -> None:
    assert issubclass(ContractError, ValueError)


@pytest.mark.parametrize("name", BAD_FAMILY_NAMES, ids=repr)
def test_v1_rejects_a_bad_family_name(name: object) -> None:
    with pytest.raises(ContractError) as exc:
        compute_feature_schema_sha(["knn", name])  # type: ignore[list-item]
    assert_names(exc, name)


@pytest.mark.parametrize("name", BAD_FAMILY_NAMES, ids=repr)
def test_v2_rejects_a_bad_family_name(name: object) -> None:
    with pytest.raises(ContractError) as exc:
        compute_schema_sha({"knn": ["knn_score"], name: ["other"]})  # type: ignore[dict-item]
    assert_names(exc, name)


@given(st.text(max_size=70).filter(lambda s: not is_family_name(s)))
def test_any_string_outside_the_family_pattern_is_rejected(name: str) -> None:
    with pytest.raises(ContractError) as exc:
        compute_feature_schema_sha([name])
    assert_names(exc, name)
    with pytest.raises(ContractError) as exc:
        compute_schema_sha({name: ["column"]})
    assert_names(exc, name)


def test_v1_rejects_empty_input() -> None:
    empties: list[Iterable[str]] = [[], (), iter([])]
    for empty in empties:
        with pytest.raises(ContractError, match="empty"):
            compute_feature_schema_sha(empty)


def test_v2_rejects_an_empty_schema() -> None:
    with pytest.raises(ContractError, match="empty"):
        compute_schema_sha({})


@given(st.lists(FAMILIES, min_size=1, max_size=5, unique=True), st.data())
def test_v1_rejects_a_duplicate_family(families: list[str], data: st.DataObject) -> None:
    duplicate = data.draw(st.sampled_from(families))
    with pytest.raises(ContractError, match="duplicate") as exc:
        compute_feature_schema_sha([*families, duplicate])
    assert_names(exc, duplicate)


def test_v1_rejects_a_single_string() -> None:
    for value in ("knn", b"knn"):
        with pytest.raises(ContractError) as exc:
            compute_feature_schema_sha(value)  # type: ignore[arg-type]
        assert_names(exc, value)


def test_v2_rejects_a_family_with_no_columns() -> None:
    empties: list[Sequence[str]] = [[], ()]
    for empty in empties:
        with pytest.raises(ContractError, match="no columns") as exc:
            compute_schema_sha({"knn": ["knn_score"], "length": empty})
        assert_names(exc, "length")


@pytest.mark.parametrize("value", ["knn_score", b"knn_score", 3, None, {"knn_score"}], ids=repr)
def test_v2_rejects_columns_that_are_not_a_list_of_names(value: object) -> None:
    with pytest.raises(ContractError) as exc:
        compute_schema_sha({"knn": value})  # type: ignore[dict-item]
    assert_names(exc, value)


@pytest.mark.parametrize("column", ["", 1, None, b"knn_score", ["knn_score"]], ids=repr)
def test_v2_rejects_a_column_that_is_not_a_non_empty_string(column: object) -> None:
    with pytest.raises(ContractError) as exc:
        compute_schema_sha({"knn": ["knn_score", column]})  # type: ignore[list-item]
    assert_names(exc, column)


@given(st.integers(257, 2000), st.sampled_from(["x", "é", "\U0001f600"]))
def test_v2_rejects_a_column_longer_than_256(length: int, char: str) -> None:
    column = char * length
    with pytest.raises(ContractError) as exc:
        compute_schema_sha({"knn": [column]})
    message = str(exc.value)
    # A long name is quoted by its first 40 characters, with its length.
    assert "\n" not in message
    assert repr(column[:40]) in message
    assert str(length) in message


@pytest.mark.parametrize("char", CONTROL_CHARS, ids=lambda c: f"U+{ord(c):04X}")
def test_v2_rejects_every_control_character(char: str) -> None:
    for column in (char, f"knn{char}", f"{char}knn", f"kn{char}n"):
        with pytest.raises(ContractError, match="control character") as exc:
            compute_schema_sha({"knn": ["knn_score", column]})
        assert_names(exc, column)


@given(schemas(), st.data())
def test_v2_rejects_a_column_repeated_within_or_across_families(
    schema: dict[str, list[str]], data: st.DataObject
) -> None:
    column = data.draw(st.sampled_from([c for cols in schema.values() for c in cols]))
    family = data.draw(st.sampled_from(sorted(schema)))
    broken = {**schema, family: [*schema[family], column]}
    with pytest.raises(ContractError, match="duplicate column") as exc:
        compute_schema_sha(broken)
    assert_names(exc, column)


def test_v2_duplicate_column_error_names_both_families() -> None:
    with pytest.raises(ContractError) as exc:
        compute_schema_sha({"knn": ["score"], "length": ["len", "score"]})
    assert_names(exc, "score")
    assert "'knn'" in str(exc.value)
    assert "'length'" in str(exc.value)


@pytest.mark.parametrize("value", [["knn"], "knn", None, 3], ids=repr)
def test_v2_rejects_a_schema_that_is_not_a_mapping(value: object) -> None:
    with pytest.raises(ContractError, match="mapping"):
        compute_schema_sha(value)  # type: ignore[arg-type]
