"""Write a golden set: ``python -m golden.generate --config configs/small.yaml --samples 200 -o golden/small``.

The fast golden model (:class:`hwsim.fast.Engine`) trains on the first ``--samples`` samples of
the config's data set in the training order of :func:`hwsim.train_loop.epoch_order` (epoch 0, then
1, ...), recording each sample's per-layer pre-activations, activations, modulatory signals,
prediction and every weight it changed; then it runs ``--infer`` test samples. Before anything is
written the run is checked twice: a second engine trains on the same samples with ``train()`` and
must agree, and the slow :class:`hwsim.reference.ReferenceEngine` must agree on the first
``--reference-samples`` samples. The output is byte-identical for identical arguments.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from hwsim.cli import SEED_MAX, ArgParser, add_engine_options, engine_config, int_in, run_cli
from hwsim.config import EngineConfig
from hwsim.cycles import COUNT_FIELDS, SampleCounts
from hwsim.datasets import check_topology, load_dataset, quantize_inputs
from hwsim.fast import Engine
from hwsim.fileio import check_output_dir, make_temp_dir, replace_dir_atomic, write_atomic
from hwsim.formats import ConfigError
from hwsim.params import initial_weights
from hwsim.reference import ReferenceEngine
from hwsim.train_loop import epoch_order

from .format import FORMAT_VERSION, KIND, GoldenError, HexFormat, count_columns, file_entry, write_meta

__all__ = ["GENERATOR_VERSION", "generate", "main"]

GENERATOR_VERSION = "1.0"


def _train_indices(seed: int, n_train: int, samples: int) -> np.ndarray:
    """Dataset indices of the first ``samples`` training steps: epoch 0's order, then epoch 1's, ..."""
    parts, epoch = [], 0
    while sum(len(p) for p in parts) < samples:
        parts.append(epoch_order(seed, epoch, n_train))
        epoch += 1
    return np.concatenate(parts)[:samples]


def _infer_indices(seed: int, n_test: int, count: int) -> np.ndarray:
    """A spread slice of the test set (test sets may be sorted by class): a seeded pick, kept sorted."""
    count = min(count, n_test)
    return np.sort(np.random.default_rng([seed, 0x1AFE]).permutation(n_test)[:count]).astype(np.int64)


def _checkpoints(spec: str, samples: int) -> list[int]:
    """``last`` | ``every:K`` | ``3,10,last`` -> sorted sample indices (the last sample always included)."""
    out = {samples - 1}
    for part in spec.split(","):
        part = part.strip()
        if part == "last" or not part:
            continue
        if part.startswith("every:"):
            step = int(part[6:])
            if step < 1:
                raise ValueError
            out |= set(range(step - 1, samples, step))
        else:
            s = int(part)
            if not 0 <= s < samples:
                raise ValueError
            out.add(s)
    return sorted(out)


STIMULI = ("data", "edge")
EDGE_PERIOD = 8
"""``--stimulus edge``: in every 8 samples, numbers 1, 3, 5 and 7 are replaced by edge cases."""


def edge_stimulus(cfg: EngineConfig, x: np.ndarray, seed: int) -> np.ndarray:
    """Data samples with edge cases mixed in (the event schedule's corners, docs/engine.md §11).

    Of every :data:`EDGE_PERIOD` samples, number 1 is all zeros (no input event: only the bias),
    3 is fully dense (every pixel the format's largest value: every column an event), 5 has one
    non-zero pixel at a random place, and 7 repeats the sample before it (trained again, its
    errors and deltas are often all zero: no active group). Returns a new array.
    """
    x = x.copy()
    rng = np.random.default_rng([seed, 0xED6E])
    n_in = x.shape[1]
    for s in range(x.shape[0]):
        case = s % EDGE_PERIOD
        if case == 1:
            x[s] = 0
        elif case == 3:
            x[s] = cfg.input.max_raw
        elif case == 5:
            x[s] = 0
            x[s, rng.integers(n_in)] = rng.integers(1, cfg.input.max_raw + 1)
        elif case == 7:
            x[s] = x[s - 1]
    return x


def generate(cfg: EngineConfig, out: str | Path, samples: int, infer: int = 100, seed: int = 0,
             checkpoints: str = "last", reference_samples: int = 3, data_dir: str | None = None,
             log=None, stimulus: str = "data") -> Path:
    """Run the golden model and write the set to ``out``; returns its path.

    ``out`` must be new, empty, or an earlier golden set (it holds meta.json): that one is
    replaced atomically; any other folder is refused before any work, so nothing the tool did
    not write is ever deleted. ``log(text)`` receives progress lines. ``stimulus="edge"`` mixes
    :func:`edge_stimulus` cases into the training and inference samples.
    """
    out = check_output_dir(out, "-o", empty_or_ours="meta.json")
    if samples < 1:
        raise ConfigError(f"--samples must be at least 1, not {samples}")
    if infer < 0:
        raise ConfigError(f"--infer must be at least 0, not {infer}")
    try:
        ckpts = _checkpoints(checkpoints, samples)
    except ValueError:
        raise ConfigError(f"--checkpoints must be 'last', 'every:K' or sample indices in 0..{samples - 1} "
                          f"separated by commas, not {checkpoints!r}") from None
    data = load_dataset(cfg.dataset, data_dir)
    check_topology(data, cfg.topology[0], cfg.n_classes)
    n_layers = len(cfg.layers)
    tr_idx = _train_indices(seed, len(data.x_train), samples)
    in_idx = _infer_indices(seed, len(data.x_test), infer)
    x = quantize_inputs(data.x_train[tr_idx], cfg.input).astype(np.int64)
    labels = data.y_train[tr_idx].astype(np.int64)
    xi = quantize_inputs(data.x_test[in_idx], cfg.input).astype(np.int64)
    li = data.y_test[in_idx].astype(np.int64)
    if stimulus not in STIMULI:
        raise ConfigError(f"--stimulus must be one of {', '.join(STIMULI)}, not {stimulus!r}")
    if stimulus == "edge":
        x, xi = edge_stimulus(cfg, x, seed), edge_stimulus(cfg, xi, seed + 1)

    init = initial_weights(cfg, seed)
    eng = Engine(cfg, init)
    z = [np.zeros((samples, l.n_out), np.int64) for l in cfg.layers]
    y = [np.zeros_like(a) for a in z]
    delta = [np.zeros_like(a) for a in z]
    preds = np.zeros(samples, np.int64)
    diffs: list[list[np.ndarray]] = [[] for _ in range(n_layers)]
    ckpt_w: dict[int, list[np.ndarray]] = {}
    prev = [w.reshape(-1).copy() for w in init]
    ref = ReferenceEngine(cfg, init) if reference_samples > 0 else None
    traces = []
    t0 = last = time.perf_counter()
    for s in range(samples):
        if log is not None and time.perf_counter() - last > 5:
            last = time.perf_counter()
            log(f"  traced {s}/{samples} training samples ({last - t0:.0f} s)")
        tr = eng.trace(x[s], int(labels[s]), train=True)
        traces.append(tr)
        preds[s] = tr.prediction
        for k in range(n_layers):
            z[k][s], y[k][s], delta[k][s] = tr.z[k], tr.y[k], tr.delta[k]
        now = [w.reshape(-1) for w in eng.weights()]
        for k in range(n_layers):
            idx = np.flatnonzero(now[k] != prev[k])
            diffs[k].append(np.stack([np.full(idx.size, s), idx, now[k][idx]], axis=1))
            prev[k] = now[k].copy()
        if s in ckpts:
            ckpt_w[s] = eng.weights()
        if ref is not None and s < reference_samples:
            rt = ref.run(x[s], int(labels[s]), train=True)
            same = (rt.prediction == tr.prediction and rt.z == tr.z and rt.y == tr.y and rt.delta == tr.delta
                    and all(getattr(rt, f) == getattr(tr, f) for f in COUNT_FIELDS)
                    and all(np.array_equal(a, b) for a, b in zip(ref.weights(), eng.weights())))
            if not same:
                raise GoldenError(f"the fast engine and the slow reference disagree on training sample {s}; "
                                  f"the golden model is broken, so no golden set was written")
    final = eng.weights()
    check = Engine(cfg, init)
    train_counts = SampleCounts.from_traces(cfg, traces, [True] * samples)
    check_preds, check_counts = check.train(x, labels, counts=True)
    if not (np.array_equal(check_preds, preds)
            and all(np.array_equal(a, b) for a, b in zip(check.weights(), final))
            and check.rng_word == eng.rng_word
            and all(np.array_equal(getattr(check_counts, f), getattr(train_counts, f)) for f in COUNT_FIELDS)):
        raise GoldenError("Engine.trace and Engine.train disagree on the golden samples; the golden model "
                          "is broken, so no golden set was written")
    if len(xi):
        infer_pred, infer_z, infer_counts = eng.infer(xi, return_z=True, counts=True)
    else:
        infer_pred, infer_z = np.zeros(0, np.int64), np.zeros((0, cfg.n_classes), np.int64)
        infer_counts = SampleCounts.empty(cfg, 0)

    tmp = make_temp_dir(out)
    try:
        files = _write_files(tmp, cfg, init, x, labels, preds, z, y, delta, diffs, ckpt_w, xi, li,
                             infer_pred, infer_z, train_counts, infer_counts)
        config_yaml = cfg.dump_yaml().encode()
        write_atomic(tmp / "config.yaml", config_yaml)
        meta = {
            "kind": KIND,
            "format_version": FORMAT_VERSION,
            "generator": {"name": "golden.generate", "version": GENERATOR_VERSION,
                          "arguments": {"samples": samples, "infer": infer, "seed": seed, "stimulus": stimulus,
                                        "checkpoints": checkpoints, "reference_samples": reference_samples}},
            "config_name": cfg.name,
            "config_digest": cfg.digest(),
            "config": cfg.to_dict(),
            "config_yaml": {"bytes": len(config_yaml), "sha256": hashlib.sha256(config_yaml).hexdigest()},
            "dataset": data.name,
            "seed": seed,
            "init": f"hwsim.params.initial_weights(cfg, {seed})",
            "train": {
                "count": samples,
                "order": f"hwsim.train_loop.epoch_order({seed}, epoch, {len(data.x_train)}), epochs concatenated",
                "dataset_indices": tr_idx.tolist(),
                "checkpoints": ckpts,
                "rng_word_start": 0,
                "rng_word_end": eng.rng_word,
                "reference_checked_samples": min(reference_samples, samples),
                "weights_changed": [int(sum(d.shape[0] for d in diffs[k])) for k in range(n_layers)],
                "cycles": _cycle_summary(train_counts),
            },
            "infer": {"count": int(len(xi)), "dataset_split": "test", "dataset_indices": in_idx.tolist(),
                      "weights": f"after training sample {samples - 1}", "cycles": _cycle_summary(infer_counts)},
            "schedule": cfg.schedule.value,
            "files": {name: f.to_dict() for name, f in sorted(files.items())},
        }
        write_meta(tmp, meta)
        replace_dir_atomic(tmp, out, ours="meta.json")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out


def _cycle_summary(counts: SampleCounts) -> dict:
    c = counts.cycles
    if not len(c):
        return {}
    return {"total": int(c.sum()), "mean": float(c.mean()), "min": int(c.min()), "max": int(c.max())}


def _count_rows(counts: SampleCounts) -> np.ndarray:
    return np.concatenate([counts.cycles[:, None], counts.load[:, None]]
                          + [getattr(counts, f) for f in COUNT_FIELDS[1:]], axis=1)


def _write_files(root, cfg, init, x, labels, preds, z, y, delta, diffs, ckpt_w, xi, li, infer_pred, infer_z,
                 train_counts, infer_counts):
    samples = len(x)
    label_fmt = HexFormat.unsigned_for(cfg.n_classes - 1)
    files = {}

    def put(name, what, values, fmt, columns=()):
        files[name] = file_entry(root, name, what, values, fmt, columns)

    in_fmt = HexFormat.of(cfg.input)
    for k, layer in enumerate(cfg.layers):
        w_fmt = HexFormat.of(layer.weight)
        shape = f"({layer.n_out}, {cfg.n_cols(k)}) row-major, bias last"
        put(f"init_w{k}.hex", f"layer {k} initial weights {shape}", init[k], w_fmt)
        put(f"train_z{k}.hex", f"layer {k} pre-activations per training sample", z[k], HexFormat.of(layer.preact))
        put(f"train_y{k}.hex", f"layer {k} activations per training sample", y[k], HexFormat.of(layer.act))
        put(f"train_delta{k}.hex", f"layer {k} modulatory signals per training sample", delta[k],
            HexFormat.of(cfg.delta_format(k)))
        rec = np.concatenate(diffs[k]) if diffs[k] else np.zeros((0, 3), np.int64)
        counts = np.array([d.shape[0] for d in diffs[k]], dtype=np.int64)
        idx_fmt = HexFormat.unsigned_for(layer.n_out * cfg.n_cols(k) - 1)
        put(f"train_wcount{k}.hex", f"layer {k}: how many weights each training sample changed", counts,
            HexFormat.unsigned_for(max(1, layer.n_out * cfg.n_cols(k))))
        put(f"train_wdiff{k}.hex", f"layer {k} weights changed by the training samples, in sample order "
            f"(train_wcount{k} per sample): index = j * {cfg.n_cols(k)} + i, value after the sample",
            rec[:, 1:].reshape(-1, 2), (idx_fmt, w_fmt), ("index", "value"))
        for s, ws in ckpt_w.items():
            put(f"ckpt_w{k}_s{s}.hex", f"layer {k} weights after training sample {s} {shape}", ws[k], w_fmt)
    put("train_x.hex", "training inputs in feeding order, one sample per line", x, in_fmt)
    put("train_label.hex", "training labels", labels, label_fmt)
    put("train_pred.hex", "prediction of each training sample (before its updates)", preds, label_fmt)
    put("infer_x.hex", "inference inputs, one sample per line", xi, in_fmt)
    put("infer_label.hex", "inference labels (for accuracy only)", li, label_fmt)
    put("infer_pred.hex", "inference predictions", infer_pred, label_fmt)
    put("infer_z.hex", "inference output pre-activations", infer_z.reshape(len(xi), cfg.n_classes),
        HexFormat.of(cfg.layers[-1].preact))
    columns = count_columns(len(cfg.layers))
    count_fmt = (HexFormat(32, False),) * len(columns)
    for name, counts, what in (("train_counts.hex", train_counts, "training sample"),
                               ("infer_counts.hex", infer_counts, "inference sample")):
        put(name, f"per {what}: clock cycles, load cycles, then per layer events, active groups, update visits "
            f"weight words written and non-zero weight changes (docs/engine.md §11)", _count_rows(counts).reshape(-1, len(columns)),
            count_fmt, columns)
    return files


def _parser() -> ArgParser:
    p = ArgParser("python -m golden.generate", __doc__)
    add_engine_options(p, required=True)
    p.add_argument("--samples", type=int_in(1), required=True, help="training samples to record")
    p.add_argument("--infer", type=int_in(0), default=100, help="test samples in the inference slice (default 100)")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=0,
                   help="initial-weight and sample-order seed (default 0)")
    p.add_argument("--checkpoints", default="last",
                   help="full weight dumps: 'last' (default), 'every:K' or indices like '0,2,last'")
    p.add_argument("--reference-samples", type=int_in(0), default=3,
                   help="samples also run through the slow reference as a check (default 3)")
    p.add_argument("--data-dir", default=None, help="data directory for mnist / cifar10 / fashion-mnist")
    p.add_argument("--stimulus", choices=STIMULI, default="data",
                   help="data: data-set samples (default); edge: with all-zero, fully dense, one-pixel and "
                        "repeated samples mixed in")
    p.add_argument("-o", "--out", required=True,
                   help="output directory: new, empty, or an earlier golden set (which is replaced)")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_cli(_parser(), argv, _main, errors=(GoldenError,))


def _main(args) -> int:
    cfg = engine_config(args)
    check_output_dir(args.out, "-o", empty_or_ours="meta.json")
    print(f"golden set for {cfg.name}: {args.samples} training samples, {args.infer} inferences", flush=True)
    out = generate(cfg, args.out, args.samples, args.infer, args.seed, args.checkpoints,
                   args.reference_samples, args.data_dir, log=lambda text: print(text, flush=True),
                   stimulus=args.stimulus)
    total = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote golden set {out} ({total / 1024:.0f} KiB, {args.samples} training samples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
