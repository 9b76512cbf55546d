"""Naming rules: identifiers, directories, validation, and no path outside the root (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from curvewatch.archive import IdentifierError, ModelKey, archive_path
from curvewatch.archive.naming import MAX_FIELD_LENGTH, parse_version_dir
from hypothesis import given, settings
from hypothesis import strategies as st

KEYS = [
    (ModelKey.product("P001", scope="all", model_type="mlstm"), "product_P001_all_mlstm", "product/P001_all/mlstm"),
    (ModelKey.product("P001", scope="S002", model_type="tcn"), "product_P001_S002_tcn", "product/P001_S002/tcn"),
    (
        ModelKey.store("S001", scope="P002", model_type="transformer"),
        "store_S001_P002_transformer",
        "store/S001_P002/transformer",
    ),
    (ModelKey.store("S001", model_type="kan"), "store_S001_all_kan", "store/S001_all/kan"),
    (ModelKey.global_(scope="all", aggregation="sum", model_type="kan"), "global_all_sum_kan", "global/all/sum/kan"),
    (
        ModelKey.global_(scope=("stores", "S001"), aggregation="mean", model_type="tcn"),
        "global_stores_S001_mean_tcn",
        "global/stores/S001/mean/tcn",
    ),
    (
        ModelKey.global_(scope="products", product_id="P9", aggregation="sum", model_type="kan"),
        "global_products_P9_sum_kan",
        "global/products/P9/sum/kan",
    ),
    (
        ModelKey.global_(scope=("custom", "S001", "P001"), aggregation="sum", model_type="mlstm"),
        "global_custom_S001_P001_sum_mlstm",
        "global/custom/S001/P001/sum/mlstm",
    ),
]


@pytest.mark.parametrize(("key", "identifier", "relative_dir"), KEYS)
def test_identifier_and_directory_follow_the_layout(key: ModelKey, identifier: str, relative_dir: str) -> None:
    assert key.identifier == identifier
    assert key.relative_dir == relative_dir


@pytest.mark.parametrize(("key", "identifier", "relative_dir"), KEYS)
def test_identifier_and_directory_parse_back_to_the_key(key: ModelKey, identifier: str, relative_dir: str) -> None:
    assert ModelKey.parse(identifier) == key
    assert ModelKey.from_relative_dir(relative_dir) == key


def test_paths_are_built_by_one_function(tmp_path: Path) -> None:
    key = KEYS[0][0]
    assert archive_path(tmp_path, key, 3, "model.pth") == tmp_path / "product/P001_all/mlstm/v3/model.pth"
    assert archive_path(tmp_path, filename="versions.json") == tmp_path / "versions.json"
    assert parse_version_dir("v12") == 12 and parse_version_dir("v0") is None and parse_version_dir("v1x") is None


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "empty"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "'..'"),
        ("a..b", "'..'"),
        ("P\n1", "control character"),
        ("P\x001", "control character"),
        ("x" * (MAX_FIELD_LENGTH + 1), "longer than"),
        ("P_1", "'_'"),
        (".hidden", "ASCII letters"),
        ("P 1", "ASCII letters"),
        ("é", "ASCII letters"),
    ],
)
@pytest.mark.parametrize("field", ["product_id", "scope", "model_type"])
def test_bad_field_is_rejected_with_its_name(bad: str, why: str, field: str) -> None:
    args = {"product_id": "P001", "scope": "all", "model_type": "mlstm", field: bad}
    with pytest.raises(IdentifierError, match=why) as info:
        ModelKey.product(args["product_id"], scope=args["scope"], model_type=args["model_type"])
    assert info.value.field == field
    assert str(info.value).startswith(f"{field} ")


def test_global_key_fields_are_named_in_errors() -> None:
    with pytest.raises(IdentifierError, match="^aggregation "):
        ModelKey.global_(aggregation="../sum", model_type="kan")
    with pytest.raises(IdentifierError, match="^store_id "):
        ModelKey.global_(scope=("custom", "S/1", "P1"), aggregation="sum", model_type="kan")
    with pytest.raises(IdentifierError, match="needs store_id and product_id"):
        ModelKey.global_(scope=("custom", "S1"), aggregation="sum", model_type="kan")
    with pytest.raises(IdentifierError, match="use one of all, stores, products, custom"):
        ModelKey.global_(scope="planets", aggregation="sum", model_type="kan")


@pytest.mark.parametrize(
    "bad", ["", "product_P1_mlstm", "model_P1_all_x", "product_P1_all_m_x", "global_sum_kan", "product_../_all_m", None]
)
def test_malformed_identifier_is_rejected(bad: object) -> None:
    with pytest.raises(IdentifierError, match="^identifier "):
        ModelKey.parse(bad)  # type: ignore[arg-type]


# arbitrary text, near-valid names with separators and dots, and known attacks
_text = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"[A-Za-z0-9./\\_-]{1,70}", fullmatch=True),
    st.sampled_from(["..", ".", "all", "a/../b", "/etc", "~", "P1", "..\\x", "v1", "\x00"]),
)


@settings(max_examples=400, deadline=None)
@given(
    mode=st.sampled_from(["product", "store", "global", "experiment"]),
    a=_text,
    b=_text,
    c=_text,
    d=_text,
    e=_text,
    version=st.integers(min_value=1, max_value=10**6),
    filename=_text,
)
def test_no_generated_input_produces_a_path_outside_the_root(
    mode: str,
    a: str,
    b: str,
    c: str,
    d: str,
    e: str,
    version: int,
    filename: str,
) -> None:
    root = Path("/srv/archive/saved_models")
    try:
        if mode == "product":
            key = ModelKey.product(a, scope=b, model_type=c)
        elif mode == "store":
            key = ModelKey.store(a, scope=b, model_type=c)
        elif mode == "experiment":
            key = ModelKey.experiment(a, model_type=b)
        else:
            key = ModelKey.global_(scope=("custom", a, b), aggregation=d, model_type=e)
    except IdentifierError:
        return
    path = archive_path(root, key, version)
    assert path.resolve().is_relative_to(root)
    assert ".." not in path.parts and len(path.relative_to(root).parts) == len(key.relative_dir.split("/")) + 1
    assert ModelKey.parse(key.identifier) == key
    try:
        file_path = archive_path(root, key, version, filename)
    except IdentifierError:
        return
    assert file_path.parent == path


@settings(max_examples=300, deadline=None)
@given(identifier=st.text(max_size=120))
def test_no_parsed_identifier_escapes_the_root(identifier: str) -> None:
    try:
        key = ModelKey.parse(identifier)
    except IdentifierError:
        return
    assert key.identifier == identifier
    assert archive_path("/srv/a", key, 1).resolve().is_relative_to(Path("/srv/a"))


# -- experiment keys: users' own names ----------------------------------------------------------------
USER_NAMES = ["resnet_18", "bert-base.v2", "digits-mlp", "A", "exp_2024.06-01", "x" * MAX_FIELD_LENGTH]


@pytest.mark.parametrize("name", USER_NAMES)
def test_experiment_key_accepts_names_users_use(name: str) -> None:
    key = ModelKey.experiment(name, model_type=name)
    assert key.identifier == key.relative_dir == f"experiments/{name}/{name}"
    assert ModelKey.parse(key.identifier) == key == ModelKey.from_relative_dir(key.relative_dir)


def test_experiment_key_layout(tmp_path: Path) -> None:
    key = ModelKey.experiment("digits-mlp", model_type="resnet_18")
    assert key.mode == "experiment"
    assert archive_path(tmp_path, key, 2, "model.pth") == tmp_path / "experiments/digits-mlp/resnet_18/v2/model.pth"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "empty"),
        ("a/b", "path separator"),
        ("..", "'..'"),
        ("a..b", "'..'"),
        ("_lead", "not allowed"),
        ("-lead", "not allowed"),
        ("a b", "not allowed"),
        ("é", "not allowed"),
        ("v3", "version directory"),
        ("x" * (MAX_FIELD_LENGTH + 1), "longer than"),
    ],
)
@pytest.mark.parametrize("field", ["experiment", "model_type"])
def test_refused_experiment_name_gets_a_sentence_listing_the_allowed_characters(bad: str, why: str, field: str):
    args = {"experiment": "digits", "model_type": "mlp", field: bad}
    with pytest.raises(IdentifierError, match=why) as info:
        ModelKey.experiment(args["experiment"], model_type=args["model_type"])
    assert info.value.field == field
    assert "use only ASCII letters, digits, '_', '-' and '.'" in str(info.value)
    assert str(info.value).endswith(".")


@pytest.mark.parametrize("bad", ["experiments/a", "experiments/a/b/c", "experiments//b", "experiments/a/v1"])
def test_malformed_experiment_identifier_is_rejected(bad: str) -> None:
    with pytest.raises(IdentifierError, match="^identifier "):
        ModelKey.parse(bad)


_name = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True).filter(
    lambda n: ".." not in n and parse_version_dir(n) is None
)


@settings(max_examples=300, deadline=None)
@given(experiment=_name, model_type=_name)
def test_experiment_names_round_trip_one_to_one(experiment: str, model_type: str) -> None:
    key = ModelKey.experiment(experiment, model_type=model_type)
    assert ModelKey.parse(key.identifier) == key
    assert ModelKey.from_relative_dir(key.relative_dir) == key
    path = archive_path("/srv/a", key, 1)
    assert path.parts[-4:] == ("experiments", experiment, model_type, "v1")


@settings(max_examples=200, deadline=None)
@given(a=st.tuples(_name, _name), b=st.tuples(_name, _name))
def test_distinct_experiment_keys_never_share_a_directory(a: tuple[str, str], b: tuple[str, str]) -> None:
    key_a, key_b = (ModelKey.experiment(e, model_type=m) for e, m in (a, b))
    assert (key_a.relative_dir == key_b.relative_dir) == (a == b)
    assert (key_a.identifier == key_b.identifier) == (a == b)
