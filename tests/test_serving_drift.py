"""Reference profiles and drift: bounded, NaN-aware, low on the same distribution, high on a shift; stored at commit."""

from __future__ import annotations

import json

import numpy as np
from curvewatch.serving import PROFILE_FILE, DriftWindow, compute_profile, ks_statistic, psi, read_profile
from curvewatch.serving._names import PROFILE_BINS
from fixtures.serving import serving_service, trained_versions  # noqa: F401 - fixtures

RNG = np.random.default_rng(7)


def test_profile_size_is_bounded() -> None:
    profile = compute_profile(RNG.normal(size=(200_000, 3)), ("a", "b", "c"))
    for feature in profile.features:
        assert len(feature.edges) <= PROFILE_BINS - 1 and len(feature.fractions) == len(feature.edges) + 1
    assert len(json.dumps(profile.to_dict())) < 3000
    flags = compute_profile((RNG.uniform(size=(1000, 1)) < 0.1).astype(float), ("promotion",)).features[0]
    assert flags.edges == (0.0,) and abs(flags.fractions[1] - 0.1) < 0.03  # a flag: its zeros, then its ones


def test_missing_values_are_counted_not_binned() -> None:
    column = RNG.normal(size=1000)
    column[:100] = np.nan
    column[100:150] = np.inf
    feature = compute_profile(column[:, None], ("sales",)).features[0]
    assert abs(feature.missing_share - 0.15) < 1e-12 and feature.count == 850
    assert abs(sum(feature.fractions) - 1) < 1e-12


def test_same_distribution_scores_low_and_shifted_scores_high() -> None:
    feature = compute_profile(RNG.normal(10, 2, size=(20_000, 1)), ("sales",)).features[0]
    same = RNG.normal(10, 2, size=2000)
    assert psi(feature, same) < 0.1 and ks_statistic(feature, same) < 0.05
    shifted = same + 4.0  # two standard deviations
    assert psi(feature, shifted) > 1.0 and ks_statistic(feature, shifted) > 0.5


def test_drift_window_keeps_the_latest_rows() -> None:
    profile = compute_profile(RNG.normal(size=(1000, 2)), ("a", "b"))
    window = DriftWindow(profile, rows=50)
    for start in range(0, 130, 13):  # blocks of 13 rows wrap around the ring
        window.add(np.arange(start, start + 13, dtype=float)[:, None].repeat(2, axis=1))
    assert window.rows()[:, 0].tolist() == list(map(float, range(80, 130)))
    window.add(np.full((200, 2), 5.0))  # more rows than the window: only its last 50
    assert window.rows().shape == (50, 2) and (window.rows() == 5.0).all()


def test_a_committed_version_stores_its_profile_in_the_manifest(trained_versions) -> None:  # noqa: F811
    path = trained_versions["tcn"]
    manifest = json.loads((path / "manifest.json").read_text())
    assert PROFILE_FILE in manifest["files"]
    profile = read_profile(path)
    assert [f.name for f in profile.features] == ["sales", "holiday", "promotion"]
    assert profile.columns == (0, 1, 2)  # the calendar columns (a date does not drift) are left out
    assert read_profile(trained_versions["old"]) is None


def test_version_without_profile_serves_with_drift_unavailable(trained_versions, serving_service) -> None:  # noqa: F811
    served = serving_service([(trained_versions["old"], "primary", 0.0)])
    status, answer = served.post("/predict", {"id": "a", "until": "2023-10-01"})
    assert status == 200 and len(answer["forecast"]["sales"]) == 7
    drift = served.get("/versions").json()["versions"][0]["drift"]
    assert "without a reference profile" in drift and "drift is unavailable" in drift and drift.endswith(".")
    metrics = served.get("/metrics").text
    labels = 'identifier="product_P001_all_tcn",model_version="2",role="primary"'
    assert f"curvewatch_serving_drift_available{{{labels}}} 0.0" in metrics
    assert "curvewatch_serving_feature_psi{" not in metrics
