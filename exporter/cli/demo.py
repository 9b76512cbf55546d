"""``curvewatch demo``: record a synthetic run through the recorder, write its JSON and PNG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

__all__ = ["register", "run_demo"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="record a synthetic training run and write curves.json + PNG")
    p.add_argument("--steps", type=int, default=1_000_000, help="run length (default 1,000,000)")
    p.add_argument("--budget", type=int, default=1000, help="points kept per line (default 1000)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_main)


def run_demo(steps: int, budget: int, out: Path, seed: int = 0) -> dict[str, Path]:
    """Log a synthetic run step by step (as a training loop would) and save the documents."""
    from curvewatch import CurveRecorder
    from curvewatch.synthetic import synthetic_run

    cols = synthetic_run(steps, seed=seed)
    rec = CurveRecorder(budget=budget)
    rec.chart("loss", ["train_loss", "val_loss"], title="Loss", ylabel="loss", yscale="log",
              labels={"train_loss": "train", "val_loss": "validation"})
    rec.chart("val_acc", ["val_acc"], title="Validation accuracy", ylabel="accuracy")
    rec.chart("lr", ["lr"], title="Learning rate", ylabel="lr", yscale="log")
    rec.track_best("val_loss", mode="min")
    train, lr = cols["train_loss"].tolist(), cols["lr"].tolist()
    val = dict(zip(cols["val_step"].tolist(), zip(cols["val_loss"].tolist(), cols["val_acc"].tolist())))
    for step in range(steps):
        rec.log(step, train_loss=train[step], lr=lr[step])
        if step in val:
            v, a = val[step]
            rec.log(step, val_loss=v, val_acc=a)
    out.mkdir(parents=True, exist_ok=True)
    return {"json": rec.save_json(out / "curves.json"), "png": rec.save_png(out / "loss_curve.png")}


def _main(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    paths = run_demo(args.steps, args.budget, args.out, args.seed)
    from curvewatch import load_document

    doc = load_document(paths["json"])
    best = doc["best"]
    print(f"Recorded {args.steps:,} steps in {time.perf_counter() - t0:.1f} s.")
    for chart in doc["charts"]:
        for line in chart["lines"]:
            print(f"  {line['metric']:<11} {line['points_logged']:>10,} logged -> {len(line['x']):>5} kept")
    print(f"Best {best['metric']} ({best['mode']}) = {best['value']:.6g} at step {best['step']:,}")
    print(f"Curves JSON: {paths['json']}\nPNG:         {paths['png']}")
    return 0
