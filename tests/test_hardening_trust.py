"""Trust chain (issue 16, failures 4 and 9): predict, --resume and load_model check the manifest before
``torch.load``; every corrupted file is a sentence and exit 2, never a traceback; a bad checkpoint burns
no version number. One real quick training run is shared by the module; each case works on a copy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from curvewatch.archive import ManifestMismatchError, load_model
from curvewatch.cli import main

FAST = ["--quick", "--epochs", "2", "--lookback", "14", "--horizon", "3", "--quiet", "--checkpoint-every", "1",
        "--no-serve"]
MODEL = "kan"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("trained")
    assert main(["train", *FAST, "--model", MODEL, "--product", "P001", "--root", str(base / "saved_models")]) == 0
    return base


def _version(base: Path) -> Path:
    return next((base / "saved_models").glob(f"product/P001_all/{MODEL}/v1"))


def _copy(trained: Path, tmp_path: Path) -> Path:
    shutil.copytree(trained, tmp_path / "a")
    return _version(tmp_path / "a")


def _predict(version: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["predict", "--version-path", str(version), "--days", "3", "--json", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _scale_weights(path: Path, factor: float) -> None:
    state = torch.load(path, weights_only=True)
    torch.save({k: v * factor if v.is_floating_point() else v for k, v in state.items()}, path)


def test_tampered_model_is_refused_before_torch_load(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    version = _copy(trained, tmp_path)
    code, honest, _ = _predict(version, capsys)
    assert code == 0
    _scale_weights(version / "model.pth", 50.0)
    loads: list[object] = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    code, out, err = _predict(version, capsys)
    assert code == 2 and out == "" and loads == []
    assert "Refusing to load" in err and "model.pth was changed after commit" in err and "--no-verify" in err
    with pytest.raises(ManifestMismatchError):
        load_model(version)
    code, out, _ = _predict(version, capsys, "--no-verify")  # the expert's way round
    assert code == 0 and json.loads(out) != json.loads(honest)


def _corruptions() -> dict[str, tuple[str, object]]:
    def metadata(change):
        def apply(path: Path) -> None:
            meta = json.loads(path.read_text())
            change(meta)
            path.write_text(json.dumps(meta))
        return apply

    return {
        "model_truncated": ("model.pth", lambda p: p.write_bytes(p.read_bytes()[:100])),
        "model_empty": ("model.pth", lambda p: p.write_bytes(b"")),
        "model_garbage": ("model.pth", lambda p: p.write_bytes(b"not a zip file at all" * 10)),
        "model_pickle_code": ("model.pth", lambda p: torch.save({"x": Path("/")}, p)),
        "model_other_shapes": ("model.pth", lambda p: torch.save({"w": torch.zeros(3)}, p)),
        "model_missing": ("model.pth", lambda p: p.unlink()),
        "metadata_deep": ("metadata.json", lambda p: p.write_bytes(b"[" * 100_000)),
        "metadata_not_utf8": ("metadata.json", lambda p: p.write_bytes(b"\xff\xfe")),
        "metadata_nan": ("metadata.json", lambda p: p.write_bytes(b'{"lookback": NaN}')),
        "metadata_list": ("metadata.json", lambda p: p.write_text("[]")),
        "metadata_no_model_type": ("metadata.json", metadata(lambda m: m.pop("model_type"))),
        "metadata_bad_lookback": ("metadata.json", metadata(lambda m: m.update(lookback="x"))),
        "metadata_no_scaler": ("metadata.json", metadata(lambda m: m.pop("scaler"))),
        "metadata_bad_series": ("metadata.json", metadata(lambda m: m.update(series=[1, 2]))),
        "metadata_bad_source": ("metadata.json", metadata(lambda m: m.update(data_source={"kind": "csv"}))),
        "manifest_deep": ("manifest.json", lambda p: p.write_bytes(b"[" * 100_000)),
        "manifest_missing": ("manifest.json", lambda p: p.unlink()),
        "status_garbage": ("status.json", lambda p: p.write_bytes(b"\x00\x01")),
        "status_deep": ("status.json", lambda p: p.write_bytes(b"{" * 100_000)),
    }


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no_verify"])
@pytest.mark.parametrize("case", sorted(_corruptions()))
def test_every_corrupted_file_is_a_sentence_for_predict(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, verify: bool
) -> None:
    version = _copy(trained, tmp_path)
    name, corrupt = _corruptions()[case]
    corrupt(version / name)
    code, out, err = _predict(version, capsys, *([] if verify else ["--no-verify"]))
    if not verify and name == "manifest.json":
        assert code == 0  # --no-verify does not read the manifest
        return
    assert code == 2 and out == "", (case, err)
    assert err.startswith("curvewatch predict: error: ") and err.count("\n") == 1, err


def test_predict_never_prints_a_traceback(trained: Path, tmp_path: Path) -> None:
    version = _copy(trained, tmp_path)
    (version / "model.pth").write_bytes(b"PK\x03\x04 broken zip")
    done = subprocess.run([sys.executable, "-m", "curvewatch", "predict", "--version-path", str(version),
                           "--no-verify"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "cannot be loaded" in done.stderr


def test_verify_reports_a_change_inside_status_json(trained: Path, tmp_path: Path, capsys) -> None:
    version = _copy(trained, tmp_path)
    status = json.loads((version / "status.json").read_text())
    (version / "status.json").write_text(json.dumps({**status, "identifier": "product_P002_all_kan"}))
    root = str(tmp_path / "a" / "saved_models")
    assert main(["versions", "verify", f"product_P001_all_{MODEL}", "1", "--root", root]) == 1
    assert "status.json does not name product_P001_all_kan version 1" in capsys.readouterr().out


def test_tampered_checkpoint_is_refused_and_burns_no_version(trained: Path, tmp_path: Path, capsys) -> None:
    version = _copy(trained, tmp_path)
    root = tmp_path / "a" / "saved_models"
    checkpoint = version / "checkpoint_epoch_1.pth"
    _scale_weights_in_checkpoint(checkpoint)
    argv = ["train", *FAST, "--model", MODEL, "--product", "P001", "--root", str(root), "--resume", str(checkpoint)]
    assert main(argv) == 2
    assert "checkpoint_epoch_1.pth was changed after commit" in capsys.readouterr().err
    checkpoint.write_bytes(b"garbage")
    assert main([*argv, "--no-verify"]) == 2
    assert "cannot be loaded as saved weights" in capsys.readouterr().err
    assert sorted(p.name for p in version.parent.iterdir()) == ["v1"]  # no version number used
    assert json.loads((root / "versions.json").read_text()) == {f"product_P001_all_{MODEL}": 1}


def test_checkpoint_of_another_model_burns_no_version(trained: Path, tmp_path: Path, capsys) -> None:
    version = _copy(trained, tmp_path)
    root = tmp_path / "a" / "saved_models"
    argv = ["train", *FAST, "--model", MODEL, "--product", "P001", "--root", str(root), "--lookback", "21",
            "--resume", str(version / "checkpoint_epoch_1.pth")]
    assert main(argv) == 2
    assert "was saved by another model or other options" in capsys.readouterr().err
    assert sorted(p.name for p in version.parent.iterdir()) == ["v1"]


def test_resume_from_an_intact_checkpoint_still_works(trained: Path, tmp_path: Path, capsys) -> None:
    version = _copy(trained, tmp_path)
    root = tmp_path / "a" / "saved_models"
    argv = ["train", *FAST, "--epochs", "3", "--model", MODEL, "--product", "P001", "--root", str(root),
            "--resume", str(version / "checkpoint_epoch_2.pth")]
    assert main(argv) == 0
    assert (version.parent / "v2" / "status.json").is_file()


def _scale_weights_in_checkpoint(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    state["model"] = {k: v * 50 if v.is_floating_point() else v for k, v in state["model"].items()}
    torch.save(state, path)
