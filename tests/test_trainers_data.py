"""Sales data: the built-in generator, the CSV loader's errors, selection by mode/scope, windows, scaler."""

from __future__ import annotations

import numpy as np
import pytest
from curvewatch.trainers import SalesDataError, SeriesSpec, TrainerInputError, generate_sales, load_sales_csv
from curvewatch.trainers.data import make_windows, select_series


@pytest.fixture(scope="module")
def data():
    return generate_sales(stores=3, products=2, days=120, seed=1)


def test_generator_is_deterministic_non_negative_integer_sales(data):
    again = generate_sales(stores=3, products=2, days=120, seed=1)
    assert np.array_equal(data.sales, again.sales)
    assert not np.array_equal(data.sales, generate_sales(stores=3, products=2, days=120, seed=2).sales)
    assert (data.sales >= 0).all() and np.array_equal(data.sales, np.round(data.sales))
    assert data.store_ids == ("S001", "S002", "S003") and data.product_ids == ("P001", "P002")
    assert set(data.features) == {"holiday", "promotion"}
    assert (data.sales == 0).any()  # stock-outs
    assert data.features["promotion"].any() and data.features["holiday"][0].all()  # Jan 1st


def _write(tmp_path, text):
    path = tmp_path / "sales.csv"
    path.write_text(text)
    return path


def test_csv_loads_dense_grid_with_features(tmp_path):
    path = _write(tmp_path, "date,store_id,product_id,sales,price\n"
                            "2024-01-01,S1,P1,3,2.5\n2024-01-03,S1,P1,4,2.5\n2024-01-01,S2,P1,1,3\n")
    data = load_sales_csv(path)
    assert data.sales.shape == (3, 2, 1)
    assert data.sales[:, 0, 0].tolist() == [3, 0, 4]  # a missing day counts as zero sales
    assert data.features["price"][0, 1, 0] == 3.0
    assert data.source["kind"] == "csv" and len(data.source["sha256"]) == 64
    assert data.source["path"] == str(path.resolve())  # absolute: predict finds it from any directory


@pytest.mark.parametrize(("text", "message"), [
    ("date,store_id,sales\n2024-01-01,S1,3\n", "missing column(s) product_id"),
    ("date,store_id,product_id,sales\n2024-13-01,S1,P1,3\n", "line 2: bad date"),
    ("date,store_id,product_id,sales\n2024-01-01,S1,P1,-1\n", "line 2: negative sales"),
    ("date,store_id,product_id,sales\n2024-01-01,S1,P1,lots\n", "line 2: sales 'lots' is not a number"),
    ("date,store_id,product_id,sales,price\n2024-01-01,S1,P1,1,x\n", "price 'x' is not a number"),
    ("date,store_id,product_id,sales\n2024-01-01,S1,P1,1\n2024-01-01,S1,P1,2\n", "more than one row"),
    ("date,store_id,product_id,sales\n", "no data rows"),
])
def test_csv_errors_name_the_problem(tmp_path, text, message):
    with pytest.raises(SalesDataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_sales_csv(_write(tmp_path, text))


def test_selection_follows_the_archive_layout(data):
    s, p = data.sales, data.sales
    cases = {
        SeriesSpec("product", product="P002"): s[:, :, 1].sum(axis=1),
        SeriesSpec("product", product="P002", scope="S003"): s[:, 2, 1],
        SeriesSpec("store", store="S002"): s[:, 1, :].sum(axis=1),
        SeriesSpec("store", store="S002", scope="P001"): s[:, 1, 0],
        SeriesSpec("global", scope="all", aggregation="sum"): p.sum(axis=(1, 2)),
        SeriesSpec("global", scope="all", aggregation="mean"): p.mean(axis=(1, 2)),
        SeriesSpec("global", scope="stores", store="S001", aggregation="mean"): s[:, 0, :].mean(axis=1),
        SeriesSpec("global", scope="products", product="P001", aggregation="sum"): s[:, :, 0].sum(axis=1),
        SeriesSpec("global", scope="custom", store="S003", product="P002"): s[:, 2, 1],
    }
    for spec, expected in cases.items():
        assert np.allclose(select_series(data, spec).sales, expected), spec


@pytest.mark.parametrize(("spec", "message"), [
    (dict(mode="weekly"), "Unknown mode 'weekly'; use one of product, store, global"),
    (dict(mode="product"), "needs a product id"),
    (dict(mode="global", scope="region"), "Global scope 'region' is unknown"),
    (dict(mode="global", aggregation="max"), "Aggregation 'max' is unknown"),
])
def test_bad_series_spec_is_a_clear_error(spec, message):
    with pytest.raises(TrainerInputError, match=message):
        SeriesSpec(**spec)


def test_unknown_product_lists_the_available_ones(data):
    with pytest.raises(SalesDataError, match="Product 'P999' is not in the data; available: P001, P002"):
        select_series(data, SeriesSpec("product", product="P999"))


def test_windows_split_by_time_without_leakage(data):
    series = select_series(data, SeriesSpec("product", product="P001"))
    w = make_windows(series, lookback=14, horizon=3, val_fraction=0.25)
    split = w.split_index
    assert split == 90 and w.split_date == str(data.dates[90])
    target = w.scaler.inverse_target(w.train_y.double().numpy())
    # the last training window's targets end the day before the split; validation starts at the split
    assert np.allclose(target[-1], series.sales[split - 3 : split], atol=1e-3)
    val_target = w.scaler.inverse_target(w.val_y.double().numpy())
    assert np.allclose(val_target[0], series.sales[split : split + 3], atol=1e-3)
    assert np.allclose(val_target[-1], series.sales[-3:], atol=1e-3)
    assert w.train_x.shape == (90 - 14 - 3 + 1, 14, w.n_features)
    assert w.val_x.shape == (30 - 3 + 1, 14, w.n_features)


def test_scaler_is_fitted_on_the_training_part_only(data):
    series = select_series(data, SeriesSpec("product", product="P001"))
    w = make_windows(series, lookback=14, horizon=3, val_fraction=0.25)
    assert w.scaler.mean[0] == pytest.approx(np.log1p(series.sales[: w.split_index]).mean())  # log1p target
    assert w.scaler.mean[0] != pytest.approx(np.log1p(series.sales).mean())
    plain = make_windows(series, lookback=14, horizon=3, val_fraction=0.25, target_transform="none")
    assert plain.scaler.mean[0] == pytest.approx(series.sales[: w.split_index].mean())
    restored = type(w.scaler).from_dict(w.scaler.to_dict())
    assert restored == w.scaler and all(isinstance(v, float) for v in w.scaler.to_dict()["std"])


def test_too_little_data_for_one_window_is_a_clear_error(data):
    series = select_series(data, SeriesSpec("product", product="P001"))
    with pytest.raises(TrainerInputError, match="Too little data for one window"):
        make_windows(series, lookback=100, horizon=7)
