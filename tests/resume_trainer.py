"""A user's own loop for the resume tests: ``python resume_trainer.py ROOT MODE [--continue]``.

MODE ``full`` trains 6 epochs; ``kill`` is killed by SIGKILL right after epoch 3's ``epoch_end``; ``resume``
restarts with ``resume="last"`` and trains to epoch 6. Shuffling, dropout, momentum and a step schedule
make every restored piece matter."""

from __future__ import annotations

import os
import signal
import sys

import curvewatch
import torch

EPOCHS, KILL_AFTER = 6, 3


def main(root: str, mode: str, continue_version: bool) -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(256, 8, generator=gen)
    y = (x[:, 0] - x[:, 2] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    with curvewatch.RunTracker("resume-demo", model_type="mlp", root=root, serve=False, best="val_acc", mode="max",
                               checkpoint_every=1, resume="last" if mode == "resume" else None,
                               continue_version=continue_version, model=model, optimizer=optimizer,
                               scheduler=scheduler, epochs=EPOCHS) as run:
        for epoch in range(run.start_epoch, EPOCHS + 1):
            model.train()
            for idx in torch.randperm(192).split(32):
                loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                run.log(train_loss=loss.detach(), lr=optimizer.param_groups[0]["lr"])
            scheduler.step()
            model.eval()
            with torch.no_grad():
                logits = model(x[192:])
            run.epoch_end(epoch, val_loss=torch.nn.functional.cross_entropy(logits, y[192:]),
                          val_acc=(logits.argmax(1) == y[192:]).float().mean())
            if mode == "kill" and epoch == KILL_AFTER:
                os.kill(os.getpid(), signal.SIGKILL)
        run.finish()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--continue" in sys.argv[3:])
