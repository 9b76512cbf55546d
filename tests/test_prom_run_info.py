"""RunInfo validation and the torchrun rank rules."""

from __future__ import annotations

import pytest
from curvewatch.prom import InvalidLabelValueError, RunInfo, endpoint_port, local_rank_from_env, rank_from_env
from curvewatch.prom._names import MAX_LABEL_VALUE_LENGTH


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"run_id": ""}, "RunInfo.run_id must not be empty"),
        ({"run_id": "a\nb"}, "RunInfo.run_id='a\\\\nb' contains a non-printable character"),
        (
            {"run_id": "r", "model_type": "x" * (MAX_LABEL_VALUE_LENGTH + 1)},
            "RunInfo.model_type is 129 characters",
        ),
        ({"run_id": "r", "experiment": "tab\there"}, "RunInfo.experiment="),
        ({"run_id": "r", "scope": 1.5}, "RunInfo.scope must be a string, got float"),
        ({"run_id": "r", "rank": -1}, "RunInfo.rank must be an integer 0 or more"),
        ({"run_id": "r", "rank": "0"}, "RunInfo.rank must be an integer"),
    ],
)
def test_invalid_label_value_is_a_clear_error_naming_the_field(fields: dict, message: str) -> None:
    with pytest.raises(InvalidLabelValueError, match=message):
        RunInfo(**fields)


def test_valid_fields_are_kept_and_integers_become_strings() -> None:
    run = RunInfo(run_id="mlp-1 é", version=3, host="h", rank=2)
    assert (run.run_id, run.version, run.host, run.rank) == ("mlp-1 é", "3", "h", 2)
    assert list(run.info_labels()) == ["model_type", "mode", "scope", "version", "experiment", "host"]


@pytest.mark.parametrize(
    ("environ", "rank", "local_rank"),
    [({}, 0, 0), ({"RANK": "5", "LOCAL_RANK": "1"}, 5, 1), ({"LOCAL_RANK": "3"}, 3, 3), ({"RANK": ""}, 0, 0)],
)
def test_rank_comes_from_the_environment(environ: dict, rank: int, local_rank: int) -> None:
    assert (rank_from_env(environ), local_rank_from_env(environ)) == (rank, local_rank)


def test_a_bad_rank_variable_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="RANK='x' is not an integer"):
        rank_from_env({"RANK": "x"})


@pytest.mark.parametrize(
    ("base_port", "ranks", "rank", "local_rank", "expected"),
    [
        (9100, "all", 0, 0, 9100),
        (9100, "all", 5, 1, 9101),  # second GPU of the second host: base + LOCAL_RANK
        (0, "all", 3, 3, 0),  # a free port for every rank
        (9100, "zero", 0, 0, 9100),
        (9100, "zero", 4, 0, None),  # rank 0 of another host does not serve: only global rank 0
        (9100, "zero", 1, 1, None),
    ],
)
def test_endpoint_port(base_port: int, ranks: str, rank: int, local_rank: int, expected: int | None) -> None:
    assert endpoint_port(base_port, ranks, rank, local_rank) == expected


def test_unknown_ranks_option_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="`ranks` can be all, zero, got 'some'"):
        endpoint_port(9100, "some", 0, 0)
