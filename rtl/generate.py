"""``python -m rtl.generate``: Verilog-2005, $readmemh files and a JSON manifest from one config.

    python -m rtl.generate --config configs/small.yaml [--lanes P] [--seed N] -o build/rtl/small
    python -m rtl.generate --bits 8 --hidden 100 -o build/rtl/bits8
    python -m rtl.generate --weights RUN/weights.npz -o build/rtl/trained   # start from a trained run

Writes ``drtp_engine.v`` (plain Verilog-2005 from :func:`amaranth.back.verilog.convert`, the weight
RAMs loaded with ``$readmemh``), ``layer<k>_weights.hex`` (initial weights, one RAM word per
line, lane 0 in the low bits; ``--weights RUN`` puts a training run's weights there and resets
the stochastic-rounding lanes to its word counter, so the engine continues that run; a RAM of
more than one bank (:mod:`rtl.weight_ram`) loads ``layer<k>_weights_bank<b>.hex``, the same
lines in slices of 2,048),
``layer<k>_randvec.hex`` (ROM contents or, for LFSR vectors, the per-class start states) and
``manifest.json`` (ports, parameters, formats, memories, cycles). Bad input: one sentence, exit 2.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import amaranth
from amaranth.back import verilog
from amaranth.lib import data

from hwsim.cli import SEED_MAX, ArgParser, add_engine_options, engine_config, int_in, run_cli
from hwsim.config import EngineConfig, RandomSource, load_config
from hwsim.cycles import dense_counts
from hwsim.fileio import check_output_dir, write_atomic, write_json_atomic
from hwsim.formats import ConfigError
from hwsim.params import initial_weights, lane_reset_words, random_start_state, random_vectors
from hwsim.run_dir import SavedRun, load_run

from .engine import HOST_READ_LATENCY, DrtpEngine
from .arith import index_shape
from .layer import weight_words
from .schedule import input_beats, phases, scaling_formula
from .weight_ram import BANK_WORDS, WeightWrites, bank_sizes, built_writes

__all__ = ["TOP", "build_config", "generate", "manifest", "use_readmemh", "load_weights", "main"]

TOP = "drtp_engine"


def build_config(config: str, lanes: int | None = None) -> EngineConfig:
    """Load a config, apply ``--lanes``, and check the RTL can build it (raises ConfigError)."""
    cfg = load_config(config)
    if lanes is not None:
        cfg = dataclasses.replace(cfg, lanes=lanes)
    cfg.check_buildable()
    return cfg


def _hex_lines(words, width: int) -> str:
    digits = max(1, -(-width // 4))
    return "".join(f"{w & ((1 << width) - 1):0{digits}x}\n" for w in words)


def use_readmemh(verilog_text: str, loads: dict[tuple[str, str], str | None]) -> str:
    """Replace the inline ``initial`` contents of the listed memories by ``$readmemh``.

    ``loads`` maps ``(module, memory)`` (e.g. ``("drtp_engine.layer0", "weights")``) to a file name,
    or to None to leave that memory uninitialised. yosys writes a memory's contents as one
    ``mem[i] = ...;`` line per word, which every frontend parses slowly (minutes for 784-500-10);
    ``$readmemh`` is what FPGA flows, Verilator and Icarus expect. Other memories keep their lines.
    """
    out, module, lines = [], None, verilog_text.split("\n")
    n = 0
    while n < len(lines):
        line = lines[n]
        if line.startswith("module "):
            module = line[len("module "):].split("(")[0].strip().lstrip("\\")
        if line.strip() == "initial begin" and n + 1 < len(lines):
            first = lines[n + 1].strip()
            mem = first.split("[", 1)[0]
            if first.startswith(f"{mem}[0] = ") and (module, mem) in loads:
                end = n + 1
                while lines[end].strip() != "end":
                    end += 1
                indent = line[: len(line) - len(line.lstrip())]
                if loads[module, mem] is not None:
                    out.append(f'{indent}initial $readmemh("{loads[module, mem]}", {mem});')
                n = end + 1
                continue
        out.append(line)
        n += 1
    return "\n".join(out)


def _pack(lanes, width: int) -> int:
    return sum((int(v) & ((1 << width) - 1)) << (p * width) for p, v in enumerate(lanes))


def _ports(dut: DrtpEngine) -> list[dict]:
    ports = [{"name": "clk", "dir": "in", "width": 1, "doc": "clock (rising edge)"},
             {"name": "rst", "dir": "in", "width": 1, "doc": "synchronous reset, active high"}]
    for path, member, value in dut.signature.flatten(dut):
        entry = {"name": "__".join(str(p) for p in path), "dir": "in" if member.flow.name == "In" else "out",
                 "width": len(value.as_value()) if hasattr(value, "as_value") else len(value)}
        shape = member.shape
        if isinstance(shape, data.StructLayout):
            entry["fields"] = {name: {"offset": field.offset, "width": field.width}
                               for name, field in shape}
        ports.append(entry)
    return ports


def manifest(cfg: EngineConfig, dut: DrtpEngine, seed: int | None, files: dict, weights_source: str | None = None,
             rng_word: int = 0) -> dict:
    layers = []
    for k, layer in enumerate(cfg.layers):
        P, G, n_cols = cfg.lanes, cfg.groups(k), cfg.n_cols(k)
        layers.append({
            "n_in": layer.n_in, "n_out": layer.n_out, "groups": G, "n_cols": n_cols,
            "formats": {
                "input": cfg.in_format(k).to_dict(), "weight": layer.weight.to_dict(),
                "accumulator": cfg.acc_format(k).to_dict(), "preact": layer.preact.to_dict(),
                "activation": layer.act.to_dict(), "delta": cfg.delta_format(k).to_dict(),
                **({"error": layer.error.to_dict()} if layer.error is not None else {}),
            },
            "activation": layer.activation.value,
            "update": {"rule": layer.update_rule.value, "shift": layer.update_shift,
                       "rounding": layer.update_rounding.value, "drop_bits": cfg.update_drop_bits(k)},
            "memories": {
                "weights": {"depth": G * n_cols, "width": P * layer.weight.width,
                            "bits": G * n_cols * P * layer.weight.width, "address": "g * n_cols + i",
                            "lane_bits": layer.weight.width, "init": files.get(f"layer{k}_weights"),
                            "banks": [{"depth": n, "init": files.get(f"layer{k}_weights_bank{b}")}
                                      for b, n in enumerate(bank_sizes(G * n_cols))]},
                "deltas": {"depth": G, "width": P * cfg.delta_format(k).width},
                **({"activations": {"depth": G, "width": P * layer.act.width}}
                   if not cfg.is_output(k) and not cfg.is_event else {}),
                **({"events": {"depth": layer.n_in,
                               "width": index_shape(layer.n_in).width + cfg.in_format(k).width},
                    "active_groups": {"depth": G, "width": index_shape(G).width
                                      + index_shape(G * n_cols + n_cols).width}} if cfg.is_event else {}),
                **({"randvec": {"source": cfg.random_source.value, "file": files.get(f"layer{k}_randvec")}}
                   if not cfg.is_output(k) else {}),
            },
        })
    return {
        "top": TOP,
        "verilog": files["verilog"],
        "config": {"name": cfg.name, "digest": cfg.digest(), "topology": list(cfg.topology)},
        "generator": {"amaranth": amaranth.__version__, "weight_seed": seed,
                      "weights": weights_source or f"initial weights of seed {seed}", "rng_word": rng_word},
        "parameters": {
            "lanes": cfg.lanes, "bias": cfg.bias, "n_classes": cfg.n_classes,
            "input": cfg.input.to_dict(), "input_beats": input_beats(cfg),
            "random_source": cfg.random_source.value, "random_lfsr_bits": cfg.random_lfsr_bits,
            "random_seeds": list(cfg.random_seeds), "rng_lfsr_bits": cfg.rng_lfsr_bits,
            "rng_seed": cfg.rng_seed, "stochastic": cfg.uses_stochastic(),
            "host_read_latency": HOST_READ_LATENCY,
            "weight_writes": built_writes(cfg, dut.weight_writes).value,
            "rng_word": rng_word,
            "rng_lane_reset": lane_reset_words(cfg, rng_word) if cfg.uses_stochastic() else [],
        },
        "layers": layers,
        "ports": _ports(dut),
        "memories_total_bits": {
            "weights": sum(cfg.groups(k) * cfg.n_cols(k) * cfg.lanes * l.weight.width
                           for k, l in enumerate(cfg.layers)),
        },
        "cycles": _cycles(cfg),
    }


def _cycles(cfg: EngineConfig) -> dict:
    """The manifest's cycle section: dense samples all take the same; event samples at most this."""
    worst = dense_counts(cfg, 1, True)
    if cfg.is_event:
        worst.load[:] = cfg.layers[0].n_in     # every pixel non-zero: one load cycle each
    inference = dense_counts(cfg, 1, False)
    inference.load[:] = worst.load
    return {
        "schedule": cfg.schedule.value,
        "train": int(worst.cycles[0]), "inference": int(inference.cycles[0]),
        "phases_train": {p.name: p.cycles for p in phases(cfg, True, worst)},
        "phases_inference": {p.name: p.cycles for p in phases(cfg, False, inference)},
        "definition": ("first input beat to done inclusive, input never stalling (= sample period)"
                       + ("; event: the most any sample takes (every input non-zero, every group active); "
                          "each sample's cycles follow the formula from its event counts" if cfg.is_event else "")),
        "formula": scaling_formula(cfg),
    }


def generate(cfg: EngineConfig, out: Path, seed: int = 0, init_weights: bool = True, init_path: str = "", *,
             weights: list | None = None, rng_word: int = 0, weights_source: str | None = None,
             weight_writes: WeightWrites = WeightWrites.LANES) -> dict:
    """Write the Verilog, init files and manifest for ``cfg`` into ``out``; returns the manifest.

    The Verilog loads the weight RAMs with ``$readmemh("<init_path><file>")`` (a bare file name is
    found in the simulator's or synthesis tool's working directory); ``init_weights=False`` drops
    that, so the file stands alone. The small random-vector ROMs keep their contents inline.

    ``weights`` (canonical ``(n_out, n_cols)`` raw arrays, e.g. a trained run's) replace the
    initial weights of ``seed``; ``rng_word`` is the stochastic-rounding word counter the lanes
    reset to (the reset values of the lane registers), so that the engine continues exactly as
    ``hwsim.fast.Engine(cfg, weights, rng_word)``. ``weights_source`` names them in the manifest.
    ``weight_writes`` (:class:`rtl.weight_ram.WeightWrites`): ``event`` writes a word's changed lanes
    (``LANES``) or the whole word (``WORD``, for FPGA block RAMs); the manifest records it.
    """
    if isinstance(rng_word, bool) or not isinstance(rng_word, int) or rng_word < 0:
        raise ConfigError(f"rng_word must be a non-negative integer, not {rng_word!r}")
    if weights is None:
        weights = initial_weights(cfg, seed)
    else:
        seed = None
        cfg.check_weights(weights)
    out.mkdir(parents=True, exist_ok=True)
    # the design carries no weight init: the Verilog reads the .hex files instead (see use_readmemh)
    dut = DrtpEngine(cfg, None, rng_word, weight_writes)
    files = {"verilog": f"{TOP}.v"}
    loads: dict[tuple[str, str], str | None] = {}
    for k, layer in enumerate(cfg.layers):
        name = f"layer{k}_weights.hex"
        words = [_pack(w, layer.weight.width) for w in weight_words(cfg, k, weights[k])]
        width = cfg.lanes * layer.weight.width
        write_atomic(out / name, _hex_lines(words, width))
        files[f"layer{k}_weights"] = name
        # the RAM is banked (rtl.weight_ram): one file per bank, the whole layer's file when it is one bank
        sizes = bank_sizes(cfg.groups(k) * cfg.n_cols(k))
        for b, n in enumerate(sizes):
            bank_file = name
            if len(sizes) > 1:
                bank_file = f"layer{k}_weights_bank{b}.hex"
                write_atomic(out / bank_file, _hex_lines(words[b * BANK_WORDS:b * BANK_WORDS + n], width))
            files[f"layer{k}_weights_bank{b}"] = bank_file
            loads[f"{TOP}.layer{k}.weights", f"bank{b}"] = init_path + bank_file if init_weights else None
        if not cfg.is_output(k):
            name = f"layer{k}_randvec.hex"
            if cfg.random_source is RandomSource.ROM:
                rows, G, P = random_vectors(cfg, k), cfg.groups(k), cfg.lanes
                bits = [[int(rows[c, g * P + p] > 0) if g * P + p < layer.n_out else 0 for p in range(P)]
                        for c in range(cfg.n_classes) for g in range(G)]
                text = _hex_lines([_pack(b, 1) for b in bits], P)
            else:
                text = _hex_lines([random_start_state(cfg, k, c) for c in range(cfg.n_classes)],
                                  cfg.random_lfsr_bits)
            write_atomic(out / name, text)
            files[f"layer{k}_randvec"] = name
    text = use_readmemh(verilog.convert(dut, name=TOP, emit_src=False, strip_internal_attrs=True), loads)
    write_atomic(out / files["verilog"], text)
    man = manifest(cfg, dut, seed, files, weights_source, rng_word)
    write_json_atomic(out / "manifest.json", man)
    return man


def load_weights(path: str | Path, option: str = "--weights") -> SavedRun:
    """The training run that ``--weights`` names: its folder, or the ``weights.npz`` inside it.

    Read by :func:`hwsim.run_dir.load_run` (config.yaml, results.json and weights.npz, checked
    against each other); any problem is one :class:`ConfigError` sentence.
    """
    p = Path(path)
    if p.suffix == ".npz" or p.is_file():
        if not p.is_file():
            raise ConfigError(f"{option} {str(path)!r} does not exist (python -m hwsim.train --out RUN writes "
                              f"RUN/weights.npz)")
        if p.name != "weights.npz":
            raise ConfigError(f"{option} {str(path)!r} must be a run folder or the weights.npz inside one "
                              f"(written by python -m hwsim.train --out RUN, beside its config.yaml)")
        p = p.parent
    return load_run(p, option)


def _parser() -> ArgParser:
    p = ArgParser("python -m rtl.generate", __doc__)
    add_engine_options(p)
    p.add_argument("--weights", metavar="RUN",
                   help="start from a training run: RUN/weights.npz (or the folder RUN) written by "
                        "python -m hwsim.train --out RUN; its config.yaml is the engine unless --config/--bits "
                        "is given, which must then be the same config")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=None,
                   help="seed of the initial weights (default 0; not with --weights)")
    p.add_argument("--no-weight-init", action="store_true",
                   help="no $readmemh for the weight RAMs (ASIC style: load them through the port)")
    p.add_argument("--init-path", default="",
                   help="prefix of the .hex names in the Verilog's $readmemh (default: none, i.e. the "
                        "working directory of the simulator or synthesis tool)")
    p.add_argument("--weight-writes", choices=[w.value for w in WeightWrites], default=WeightWrites.LANES.value,
                   help="event schedule: the update writes only the changed lanes of a weight word (lanes, "
                        "default: one write enable per lane, an ASIC SRAM's bit mask, what the energy estimate "
                        "counts) or the whole word (word: FPGA block RAMs, one fewer block RAM per bank row); "
                        "the same values either way, and dense always writes whole words")
    p.add_argument("-o", "--out", required=True, help="output directory")
    return p


def main(argv=None) -> int:
    return run_cli(_parser(), argv, _main)


def _main(args) -> int:
    run = None
    if args.weights is not None:
        if args.seed is not None:
            raise ConfigError("--seed names initial weights; with --weights the weights are the run's")
        run = load_weights(args.weights)
        if args.config is not None or args.bits is not None or args.hidden is not None:
            cfg = engine_config(args)
        else:
            cfg = run.cfg if args.lanes is None else run.cfg.with_lanes(args.lanes, "--lanes")
        if cfg.digest() != run.cfg.digest():
            raise ConfigError(f"--weights {args.weights!r} was trained with config {run.cfg.name!r} (digest "
                              f"{run.cfg.digest()}), not the {cfg.name!r} (digest {cfg.digest()}) named by "
                              f"--config/--bits/--lanes; leave them out to use the run's config.yaml")
    elif args.config is None and args.bits is None:
        raise ConfigError("give the engine: --config NAME|PATH, --bits N, or --weights RUN (a training run)")
    else:
        cfg = engine_config(args)
    out = check_output_dir(args.out, "-o")
    if run is None:
        man = generate(cfg, out, args.seed or 0, not args.no_weight_init, args.init_path,
                       weight_writes=args.weight_writes)
    else:
        man = generate(cfg, out, 0, not args.no_weight_init, args.init_path, weights=run.weights,
                       rng_word=run.rng_word, weights_source=str(run.path / "weights.npz"),
                       weight_writes=args.weight_writes)
        print(f"weights of {run.path / 'weights.npz'} ({run.epochs_done} epochs of {run.dataset}), "
              f"random stream at word {run.rng_word}")
    print(f"wrote {out / man['verilog']}: {cfg.name}, P={cfg.lanes}, "
          f"{man['cycles']['train']} cycles per training sample, {man['cycles']['inference']} per inference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
