"""The curves document: strict JSON, exact round trip, schema validation, and the PNG."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from curvewatch import (
    CurveDocumentError,
    CurveRecorder,
    decode_document,
    encode_document,
    load_document,
    validate_document,
)

pytestmark = pytest.mark.usefixtures("each_log_buffer")  # compiled and pure-Python log()


def recorded() -> CurveRecorder:
    rec = CurveRecorder(budget=16)
    rec.chart("loss", ["train", "val"], yscale="log")
    rec.track_best("val")
    for s in range(200):
        rec.log(s, train=math.inf if s == 150 else 1.0 / (s + 1), lr=0.1)
        if s % 10 == 0:
            rec.log(s, val=math.nan if s == 100 else 2.0 / (s + 1))
    return rec


def test_the_document_is_strict_json_with_non_finite_values_as_strings() -> None:
    text = encode_document(recorded().finalize())
    obj = json.loads(text)
    json.dumps(obj, allow_nan=False)  # RFC 8259: raises on NaN/inf
    ys = [y for c in obj["charts"] for line in c["lines"] for y in line["y"]]
    assert "Infinity" in ys and "NaN" in ys
    assert obj["schema_version"] == 1


def test_round_trip_is_exact_non_finite_values_included(tmp_path) -> None:
    rec = recorded()
    path = rec.save_json(tmp_path / "curves.json")
    doc = load_document(path)
    assert encode_document(doc) == path.read_text()
    original = rec.finalize()
    for a, b in zip(original["charts"], doc["charts"]):
        for la, lb in zip(a["lines"], b["lines"]):
            np.testing.assert_array_equal(np.asarray(la["y"]), np.asarray(lb["y"]))
            assert la["x"] == lb["x"]
    assert doc["best"] == original["best"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("charts"), "'charts' is a required property"),
        (lambda d: d["charts"][0]["lines"][0]["y"].append("nan"), "at /charts/0/lines/0/y"),
        (lambda d: d.update(schema_version=2), "at /schema_version"),
        (lambda d: d["charts"][0]["lines"][0]["x"].pop(), "must pair up"),
    ],
)
def test_invalid_documents_are_reported_with_where_they_break(mutate, message) -> None:
    doc = json.loads(encode_document(recorded().finalize()))
    mutate(doc)
    with pytest.raises(CurveDocumentError, match=message):
        validate_document(doc)


def test_a_document_that_is_not_json_says_so() -> None:
    with pytest.raises(CurveDocumentError, match="not valid JSON"):
        decode_document("{not json")


def test_png_is_written_with_every_chart(tmp_path) -> None:
    rec = recorded()
    path = rec.save_png(tmp_path / "loss_curve.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width >= 1000  # two charts side by side
    assert not list(tmp_path.glob(".*tmp*"))  # written through a temp file, nothing left behind


def test_per_line_purged_points_are_optional_so_older_documents_still_validate() -> None:
    rec = CurveRecorder(budget=8)
    for s in range(5):
        rec.log(s, loss=float(s))
    rec.log(2, loss=9.0)  # loss goes back: 3 of its points are purged
    doc = json.loads(encode_document(rec.finalize()))
    line = doc["charts"][0]["lines"][0]
    assert line["purged_points"] == 3 == doc["purged_points"]
    validate_document(doc)
    del line["purged_points"]  # a document written before the field existed
    validate_document(doc)
    line["purged_points"] = -1
    with pytest.raises(CurveDocumentError, match="purged_points"):
        validate_document(doc)
