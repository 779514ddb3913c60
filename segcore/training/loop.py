"""The one training loop: epochs of a custom tf.function step (`step.TrainStep`) under a
tf.distribute strategy, validation, checkpoints and records; the CLI, the app and a cluster
all train here.
"""

import logging
import time
from pathlib import Path

import numpy as np

from segcore import runlock
from segcore.class_weights import compute_class_weights, correction_bias
from segcore.losses import build_loss
from segcore.metrics import json_safe
from segcore.models.precision import emulation_warning
from segcore.progress import few_steps_warning, print_epoch_progress
from segcore.runs import now
from segcore.training import checkpoint, ema, finetune
from segcore.training.data_source import BatchStream, RunData, cache_folder, recorded_input
from segcore.training.reporting import RunReport, weights_fingerprint
from segcore.training.schedules import EpochPlan, Plateau
from segcore.training.step import TrainStep, build_trainables
from segcore.training.stopping import StopRequest
from segcore.training.strategy import is_chief, make_strategy
from segcore.training.validation import RunValidator

log = logging.getLogger("segcore.train")


class Trainer:
    """Holds the model, data and state of one run; `fit()` trains it."""

    def __init__(self, config, run_dir, strategy=None, resume=False):
        """Loads the data and builds the model and optimizer.

        Args:
            resume: a committed checkpoint will be restored, so a pretrained encoder's
                weights file is not read (it may be gone since the run started).
        """
        import keras

        self.config = config
        self.chief = is_chief()
        self.run_dir = Path(run_dir) if (run_dir and self.chief) else None
        self.run_path = run_dir  # every worker's: the workspace of its decoded-data cache
        self.report = RunReport(self.run_dir)
        self.strategy = strategy or make_strategy(config.strategy)
        keras.utils.set_random_seed(config.seed)
        self._load_data()
        # Issue 17: with --prior-fit train, the share of log(w_c) taken off the logits is
        # fitted each epoch on the training batches (prior_fit.ShareFit).
        fitting = config.prior_fit == "train" and self.class_weights is not None
        prior_bias = correction_bias(self.class_weights, config.prior_correction)
        if fitting and prior_bias is None:  # a share of 0 to start from: the layer is needed
            prior_bias = [0.0] * self.class_map.num_classes
        if resume and run_dir:
            self.input_spec = recorded_input(run_dir, self.input_spec)
        self.model, self.optimizer, self.average, self.share_fit, self.encoder = (
            build_trainables(config, self.strategy, self.input_spec, self.class_map,
                             self.class_weights, prior_bias, fitting, resume))
        self.loss_fn = build_loss(config.loss, self.class_map.num_classes, self.class_weights,
                                  smoothing=config.label_smoothing)
        self.checkpoint = None
        self.trace_seconds = None  # the first steps of this process: tracing and compiling
        from segcore.models import model_stride

        self.validator = RunValidator(self.data, self.strategy, self.model, self.loss_fn,
                                      self.class_map.names, config.batch_size,
                                      model_stride(config.model, **config.hparams))
        self.batches = BatchStream(self.data, self.strategy, self.steps_per_epoch)
        self.state = {"epoch": 0, "step": 0, "step_in_epoch": 0, "best_mean_iou": -1.0,
                      "epochs_without_improvement": 0, "plateau": Plateau().state(),
                      "train_seconds": 0.0}
        self.plan = EpochPlan(config, self.state, self.steps_per_epoch)
        if fitting:
            self.state["prior_correction"] = config.prior_correction
        self.step = TrainStep(self.model, self.optimizer, self.loss_fn, self.strategy,
                              config.batch_size, config.jit, self.average, self.share_fit)
        self.encoder_frozen = False

    def _load_data(self):
        """Reads the dataset and its samples: in memory, as patches, or streamed (data_source)."""
        config = self.config
        self.data = RunData(config, cache_folder(self.run_path))
        self.dataset, self.class_map = self.data.dataset, self.data.class_map
        self.input_spec = self.data.input_spec
        counts = self.data.class_counts
        self.class_weights = (None if counts is None
                              else compute_class_weights(counts, config.class_weights))
        self.steps_per_epoch = self.data.train_count // config.batch_size
        self.input_scale = self.data.input_scale

    # Checkpoints -----------------------------------------------------------------------------

    def save_state(self, improved=False, confusion=None):
        """Commits weights, optimizer, loop position and the best model as one atomic step."""
        if self.run_dir is None:
            return
        self.checkpoint = checkpoint.commit(
            self.run_dir, self.checkpoint, json_safe(self.state), self.model, self.optimizer,
            improved, None if confusion is None else confusion.tolist(), self.average)

    def load_state(self, run_dir):
        """Restores the run's committed checkpoint; returns False when it has none.

        Raises:
            RunError: the run has trained but its checkpoint is missing or damaged: resuming
                would restart it and overwrite its best model, so it refuses, naming the file.
        """
        found = checkpoint.resumable(run_dir, migrate=self.run_dir is not None)
        if found is None:
            return False
        found.assign(self.model.weights, self.optimizer.variables,
                     self.average.variables if self.average is not None else ())
        self.state.update(found.state)
        self.checkpoint = found
        return True

    # The loop --------------------------------------------------------------------------------

    def validate(self):
        """Runs the validation set; returns (val loss, scores dict, confusion matrix)."""
        traced = self.validator.first_step is not None
        result = self.validator()
        if not traced:  # the first evaluation step traces its function too
            self.trace_seconds = (self.trace_seconds or 0.0) + self.validator.first_step
        return result

    def _set_phase(self, epoch):
        """Freezes the encoder in its first `freeze_epochs` epochs, unfreezes it after.

        Derived from the epoch alone, so a resume continues in the phase it stopped in. A
        change retraces the step: Keras reads `trainable` when the step is traced.
        """
        freeze = finetune.frozen(epoch, self.config.hparams.get("freeze_epochs", 0))
        if finetune.set_frozen(self.encoder, freeze):
            self.step.trace()
            log.info("epoch %d: encoder %s", epoch + 1, "frozen" if freeze else "trainable")
        self.encoder_frozen = self.encoder is not None and freeze

    def train_epoch(self, epoch, stop, stream):
        """Trains one epoch (or its rest after a resume); returns (mean loss, images, stopped)."""
        config = self.config
        self._set_phase(epoch)
        skip = self.state["step_in_epoch"]
        losses, started = [], time.perf_counter()
        pending, pending_counts = [], []
        for images, masks in self.batches.epoch(epoch, skip):
            rate = self.plan.rate()
            self.optimizer.learning_rate.assign(rate)
            outputs = self.step(images, masks)
            if self.share_fit is not None:
                outputs, counts = outputs
                pending_counts.append(counts)
            pending.append(outputs)
            if self.trace_seconds is None:
                self.trace_seconds = time.perf_counter() - started
            self.state["step"] += 1
            self.state["step_in_epoch"] += 1
            if len(pending) >= config.log_every or self.state["step_in_epoch"] == self.steps_per_epoch:
                values = [float(v) for v in pending]
                losses.extend(values)
                pending = []
                self._count_shares(pending_counts)
                self.report.record({"kind": "step", "step": self.state["step"], "epoch": epoch,
                                    "loss": float(np.mean(values)), "lr": rate,
                                    "time": time.time()})
                print_epoch_progress(epoch, self.plan.epochs(),
                          self.state["step_in_epoch"], self.steps_per_epoch,
                          float(np.mean(losses)), started, stream)
            if stop:
                losses.extend(float(v) for v in pending)
                self._count_shares(pending_counts)
                return (float(np.mean(losses)) if losses else float("nan"),
                        (self.state["step_in_epoch"] - skip) * config.batch_size, True)
        images_seen = (self.state["step_in_epoch"] - skip) * config.batch_size
        return float(np.mean(losses)) if losses else float("nan"), images_seen, False

    def _count_shares(self, pending_counts):
        if self.share_fit is not None:
            self.share_fit.add(pending_counts)

    def _put_share(self, share):
        """Puts a prior-correction share in force (validation traces again with it)."""
        self.state["prior_correction"] = share
        self.share_fit.put(share)
        self.validator.reset()

    def fit(self, stream=None):
        """Trains until the epochs, the time budget, early stopping or a stop request end it.

        Returns:
            The final state: "finished" or "stopped".
        """
        import sys

        stream = stream or sys.stderr
        config = self.config
        stop = StopRequest(self.run_dir)
        budget_start = time.perf_counter() - self.state["train_seconds"]
        self._announce(stream)
        ending = None  # why the run ended before its --epochs, for status.json's message
        if self.share_fit is not None:  # a resumed run goes on with the share it had
            self._put_share(float(self.state.get("prior_correction", config.prior_correction)))
        while self.state["epoch"] < config.epochs:
            epoch = self.state["epoch"]
            epoch_start = time.perf_counter()
            train_loss, images_seen, stopped = self.train_epoch(epoch, stop, stream)
            train_seconds = time.perf_counter() - epoch_start
            if stopped:
                self.state["train_seconds"] = time.perf_counter() - budget_start
                self.save_state()
                self.report.status(state="stopped", ended=now(), epoch=epoch, step=self.state["step"],
                             message="Stopped on request; resume to continue.")
                return "stopped"
            val_loss, result, mean_iou, improved, cm = self._validate_epoch(epoch)
            self.state["train_seconds"] = time.perf_counter() - budget_start
            self.plan.epoch_ended(mean_iou, time.perf_counter() - epoch_start, self.trace_seconds)
            record = {
                "kind": "epoch", "epoch": epoch + 1, "step": self.state["step"],
                "train_loss": train_loss, "val_loss": val_loss, "val_mean_iou": result["mean_iou"],
                "val_pixel_accuracy": result["pixel_accuracy"],
                "val_mean_class_accuracy": result["mean_class_accuracy"],
                "per_class_iou": result["per_class_iou"],
                "lr": float(self.optimizer.learning_rate.numpy()),
                **({"prior_correction": self.state["prior_correction"]}
                   if self.share_fit is not None else {}),
                "schedule_epochs": self.plan.epochs(),
                "seconds": time.perf_counter() - epoch_start, "train_seconds": train_seconds,
                "train_images": images_seen, "time": time.time(),
            }
            self.report.epoch(record, mean_iou, stream)
            self.save_state(improved, cm)
            # With a budget the run ends after the epochs that fit, which progress and ETA show.
            self.report.status(epoch=epoch + 1, step=self.state["step"], epochs=self.plan.epochs(),
                         best_mean_iou=self.state["best_mean_iou"], last_mean_iou=mean_iou)
            if config.patience and self.state["epochs_without_improvement"] >= config.patience:
                ending = f"Early stop: no better val mean IoU for {config.patience} epochs."
                self.report.status(message=ending)
                break
            if self.plan.over_budget(time.perf_counter() - budget_start):
                ending = f"Time budget of {config.time_budget_min:g} min reached."
                self.report.status(message=ending, epochs=self.state["epoch"])
                break
            if stop:
                self.report.status(state="stopped", ended=now(), message="Stopped on request.")
                return "stopped"
        if self.run_dir is not None and config.predict_tta == "auto":
            from segcore.evaluation import choose_run_tta

            self.report.status(message="Choosing the prediction TTA on the validation images.")
            chosen = choose_run_tta(self.run_dir)
            stream.write(chosen)
            # The finished run says why it ended, and the TTA it chose, not the work in between.
            chosen = chosen.strip()
            ending = " ".join(m for m in (ending, chosen[:1].upper() + chosen[1:] + ".") if m)
        fingerprint = weights_fingerprint(self.model)
        self.report.status(state="finished", ended=now(), weights_fingerprint=fingerprint,
                           **({"message": ending} if ending is not None else {}))
        stream.write(f"weights fingerprint: {fingerprint}\n")
        return "finished"

    def _announce(self, stream):
        """Marks the run as running, and logs what it trains and any warning about it."""
        config = self.config
        # A resumed run with a time budget goes on with the epochs it planned, not --epochs.
        self.report.status(state="running", started=now(), epochs=self.plan.epochs(), message="",
                     steps_per_epoch=self.steps_per_epoch, **runlock.identity())
        log.info("training %s on %d images (%d val), %d steps per epoch, %d replicas%s",
                 config.model, self.data.train_count, self.data.val_count, self.steps_per_epoch,
                 self.strategy.num_replicas_in_sync, ", streaming" if self.data.streaming else "")
        for warning in (few_steps_warning(self.steps_per_epoch, self.data.train_count,
                                          config.batch_size),
                        emulation_warning(config.precision)):
            if warning:
                log.warning(warning)
                stream.write(f"warning: {warning}\n")

    def _validate_epoch(self, epoch):
        """After epoch `epoch`'s steps: the prior share's fit, validation with the averaged
        weights, and the state's epoch and best score moved on.

        Returns:
            (val loss, scores dict, mean IoU (0 when undefined), improved, confusion matrix).
        """
        if self.share_fit is not None:
            share = self.share_fit.fit(self.state["prior_correction"])
            if share is not None:
                self._put_share(share)
        with ema.applied(self.average):
            val_loss, result, cm = self.validate()
        mean_iou = result["mean_iou"] if np.isfinite(result["mean_iou"]) else 0.0
        improved = mean_iou > self.state["best_mean_iou"]
        self.state.update(epoch=epoch + 1, step_in_epoch=0)
        if improved:
            self.state.update(best_mean_iou=mean_iou, best_epoch=epoch + 1,
                              epochs_without_improvement=0)
        else:
            self.state["epochs_without_improvement"] += 1
        return val_loss, result, mean_iou, improved, cm

# The run's lifecycle (locks, config.json, resume) is segcore/training/run.py; its names stay
# importable from here for the callers that know them as loop.train.
from segcore.training.run import class_map_of, train, write_run_config  # noqa: E402, F401
