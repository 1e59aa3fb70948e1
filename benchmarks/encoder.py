"""The encoder's backends: do they agree, do the topic heads still label posts the same, and
how fast are they; and what the embedding cache costs and saves.

Backends, all on the same texts with the same number of threads:
- `torch-fp32`: the converted checkpoint as `embed.backend: torch` runs it (the reference);
- `onnx-fp32`: its ONNX export with ONNX Runtime's transformer fusions;
- `onnx-int8`: that export, int8 as `diplolens models setup --backend onnx` makes it
  (`pipeline.models.onnx_backend.QUANTIZATION`: each layer's FFN output stays float32), i.e.
  `embed.backend: onnx`;
- `onnx-int8-all`: the same with every Linear in int8, the FFN outputs too;
- `torch-int8`: torch's own dynamic quantisation of the Linear layers (per tensor).

Figures: (a) cosine of each backend's vector with torch-fp32's, over real posts in many
languages (the world-leaders archive, by account language, and UMSAB tweets, 8 languages);
(b) the shipped `topics-e5` heads over each backend's vectors on the in-domain gold dev posts
(corpora/annotations/world_leaders, split dev): micro/macro F1, how often the labels equal
torch-fp32's, and the 95 % interval of the F1 difference (paired bootstrap); (c) posts/s of each backend over the same posts, in rounds that interleave the
backends (rotating their order), median of `--encoder-repeats` rounds, and relative to
torch-fp32 (the median of the per-round ratios: the machine's load moves the absolute figures);
(d) the embedding cache: bytes per vector on disk, posts/s of reading vectors back, and what
float16 storage would lose.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import WORLD_LEADERS_FILE, data_file, fail, print_table, save_results

NAME = "encoder"
UMSAB_FILE = "umsab-xlmt-tweets/umsab.csv"
SEED = 20251129
REFERENCE = "torch-fp32"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("encoder")
    group.add_argument("--encoder-dir", type=Path, metavar="DIR",
                       help="the converted checkpoint (default: where `diplolens models setup` puts it)")
    group.add_argument("--encoder-texts", type=int, default=500, metavar="N",
                       help="real posts for the agreement and speed figures (default: 500)")
    group.add_argument("--encoder-repeats", type=int, default=3, metavar="N",
                       help="timed rounds over every backend, median reported (default: 3)")
    group.add_argument("--encoder-threads", type=int, default=0, metavar="N",
                       help="threads of every backend (default: all cores); figures go to encoder-threadsN.json")


def run(args: argparse.Namespace) -> None:
    try:
        import onnxruntime  # noqa: F401
        import torch
    except ImportError as exc:
        fail(f"the encoder benchmark needs the transformers and onnx extras ({exc})")
    from pipeline.models.encoder import default_encoder_dir

    encoder_dir = args.encoder_dir or default_encoder_dir()
    if not (encoder_dir / "config.json").is_file():
        fail(f"no encoder in {encoder_dir}: run `diplolens models setup` (or give --encoder-dir)")
    if args.encoder_repeats < 1 or args.encoder_texts < 10:
        fail("--encoder-repeats must be at least 1 and --encoder-texts at least 10")
    threads = args.encoder_threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    posts = real_posts(args.data, args.encoder_texts)
    gold = gold_dev_posts()
    print(f"\n== Encoder backends: {len(posts)} real posts ({posts['lang'].nunique()} languages), "
          f"{len(gold)} gold dev posts, {threads} threads ==")

    with tempfile.TemporaryDirectory(prefix="diplolens-encoder-bench-") as scratch:
        backends = build_backends(encoder_dir, Path(scratch), threads)
        texts = posts["text"].tolist()
        vectors = {name: encoder.encode(texts) for name, encoder in backends.items()}  # also the warm-up
        agreement = {name: agreement_figures(vectors[REFERENCE], v, posts["lang"]) for name, v in vectors.items()}
        downstream = gold_figures(backends, gold)
        speed = speed_figures(backends, texts, args.encoder_repeats)
        cache = cache_figures(backends[REFERENCE], texts, vectors[REFERENCE], Path(scratch), args.encoder_repeats)

    print_summary(agreement, downstream, speed, cache)
    figures = {"encoder_dir": str(encoder_dir), "threads": threads, "texts": len(texts),
               "texts_per_language": posts["lang"].value_counts().sort_index().to_dict(),
               "gold_dev_posts": len(gold), "repeats": args.encoder_repeats, "reference": REFERENCE,
               "backends": {name: describe(name) for name in backends}, "agreement": agreement,
               "gold_dev": downstream, "speed": speed, "cache": cache}
    # Like throughput's -workersN: a run with other threads never overwrites the default figures.
    name = NAME + (f"-threads{args.encoder_threads}" if args.encoder_threads else "")
    print(f"figures: {save_results(name, figures)}")


# --- inputs ----------------------------------------------------------------------------------

def real_posts(data_dir: Path, count: int) -> pd.DataFrame:
    """`count` normalised posts: 60 % from the world-leaders archive (an equal share per account
    language, all of a smaller one), 40 % UMSAB tweets (an equal share per language); seeded."""
    from pipeline.normalize import normalize_text

    leaders = pd.read_csv(data_file(data_dir, WORLD_LEADERS_FILE), usecols=["text", "account_main_lang"],
                          dtype=str, keep_default_na=False).rename(columns={"account_main_lang": "lang"})
    umsab = pd.read_csv(data_file(data_dir, UMSAB_FILE), usecols=["text", "iso639_1"], dtype=str,
                        keep_default_na=False).rename(columns={"iso639_1": "lang"})
    frames = [_per_group(leaders, count * 6 // 10, "leaders:"), _per_group(umsab, count - count * 6 // 10, "umsab:")]
    posts = pd.concat(frames, ignore_index=True)
    posts["text"] = posts["text"].map(normalize_text)
    return posts


def _per_group(frame: pd.DataFrame, count: int, prefix: str) -> pd.DataFrame:
    groups = dict(tuple(frame.groupby("lang")))
    share, picked = count // len(groups), []
    for lang, group in sorted(groups.items(), key=lambda item: len(item[1])):  # small groups give up their rest
        take = min(len(group), share)
        picked.append(group.sample(take, random_state=SEED).assign(lang=prefix + lang))
        count -= take
        groups.pop(lang)
        share = count // len(groups) if groups else 0
    return pd.concat(picked)


def gold_dev_posts() -> pd.DataFrame:
    """The in-domain gold posts of the dev split (never trained on), normalised as the model
    builder normalises them."""
    from pipeline.normalize import normalize_text
    from pipeline.topics.corpus import DEFAULT_ANNOTATIONS, _load_gold, load_taxonomy

    gold = _load_gold(DEFAULT_ANNOTATIONS, load_taxonomy())
    gold = gold[gold["split"] == "dev"].reset_index(drop=True)
    return gold.assign(text=gold["text"].map(normalize_text))


# --- backends --------------------------------------------------------------------------------

def describe(name: str) -> str:
    from pipeline.models.onnx_backend import QUANTIZATION

    return {
        "torch-fp32": "embed.backend: torch (the converted checkpoint, float32)",
        "onnx-fp32": "ONNX export (TorchScript exporter, opset 17), ONNX Runtime transformer fusions, float32",
        "onnx-int8": f"embed.backend: onnx: that export, quantize_dynamic {QUANTIZATION}",
        "onnx-int8-all": "that export, the same quantize_dynamic with every Linear in int8 (FFN outputs too)",
        "torch-int8": "torch.ao.quantization.quantize_dynamic of every Linear (qint8, per tensor)",
    }[name]


def build_backends(encoder_dir: Path, scratch: Path, threads: int) -> dict:
    import warnings

    import torch

    from pipeline.models.encoder import Encoder
    from pipeline.models.onnx_backend import export_fp32, quantize_int8, quiet_exporters

    print("exporting to ONNX and quantising (about a minute) ...", flush=True)
    with quiet_exporters():
        fp32 = export_fp32(encoder_dir, scratch / "model-fp32.onnx")
        int8 = quantize_int8(fp32, scratch / "model-int8.onnx")
        int8_all = quantize_int8(fp32, scratch / "model-int8-all.onnx", {"float32_nodes": ""})
    torch_int8 = Encoder(encoder_dir, threads=threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice
        torch_int8.model = torch.ao.quantization.quantize_dynamic(torch_int8.model, {torch.nn.Linear},
                                                                  dtype=torch.qint8)
    return {
        "torch-fp32": Encoder(encoder_dir, threads=threads),
        "onnx-fp32": Encoder(encoder_dir, threads=threads, backend="onnx", onnx_path=fp32),
        "onnx-int8": Encoder(encoder_dir, threads=threads, backend="onnx", onnx_path=int8),
        "onnx-int8-all": Encoder(encoder_dir, threads=threads, backend="onnx", onnx_path=int8_all),
        "torch-int8": torch_int8,
    }


# --- figures ---------------------------------------------------------------------------------

def agreement_figures(reference: np.ndarray, vectors: np.ndarray, langs: pd.Series) -> dict:
    cosines = np.sum(reference * vectors, axis=1)
    by_lang = pd.Series(cosines).groupby(langs.to_numpy())
    return {"cosine_min": round(float(cosines.min()), 5), "cosine_p1": round(float(np.percentile(cosines, 1)), 5),
            "cosine_mean": round(float(cosines.mean()), 5),
            "cosine_min_per_language": {lang: round(float(v), 5) for lang, v in by_lang.min().items()}}


def gold_figures(backends: dict, gold: pd.DataFrame, resamples: int = 1000) -> dict:
    """topics-e5 on the gold dev posts with each backend's vectors: micro/macro F1 (as in the
    model card), label decisions said yes, agreement with torch-fp32's labels, and a paired
    bootstrap (posts resampled, seeded) of the F1 difference with torch-fp32: its 95 % interval."""
    from pipeline.models import load
    from pipeline.models.heads import inputs_from_vectors
    from pipeline.topics.training import evaluate, label_scores

    model = load("topics-e5")
    labels = list(model.classes_)
    truth = np.array([[label in row for label in labels] for row in gold["labels"]], dtype=bool)
    figures, predicted = {}, {}
    for name, encoder in backends.items():
        inputs = inputs_from_vectors(gold["text"], encoder.encode(gold["text"].tolist()), model.features)
        report = evaluate(model, gold, inputs=inputs)
        predicted[name] = model.predict(inputs).astype(bool)
        figures[name] = {"micro_f1": report["overall"]["micro_f1"], "macro_f1": report["overall"]["macro_f1"],
                         "yes_decisions": int(predicted[name].sum())}
    samples = np.random.default_rng(SEED).integers(0, len(truth), (resamples, len(truth)))
    reference = [label_scores(truth[rows], predicted[REFERENCE][rows], labels) for rows in samples]
    for name, own in predicted.items():
        same = own == predicted[REFERENCE]
        figures[name].update(label_sets_equal=round(float(same.all(axis=1).mean()), 4),
                             label_decisions_equal=round(float(same.mean()), 5))
        if name != REFERENCE:
            differences = np.array([[scores[key] - base[key] for key in ("micro_f1", "macro_f1")]
                                    for rows, base in zip(samples, reference)
                                    for scores in [label_scores(truth[rows], own[rows], labels)]])
            figures[name]["f1_difference_95ci"] = {
                key: [round(float(x), 4) for x in np.percentile(differences[:, i], [2.5, 97.5])]
                for i, key in enumerate(("micro_f1", "macro_f1"))}
    return figures


def speed_figures(backends: dict, texts: list[str], repeats: int) -> dict:
    """Per backend: posts/s (median of the rounds) and its ratio to torch-fp32, the median of
    the ratios within each round (rounds are short, so the load is about the same within one
    even when other work on the machine comes and goes between them)."""
    names = list(backends)
    seconds = {name: [] for name in names}
    loads = []
    for round_ in range(repeats):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:  # rotate who goes first
            tick = time.perf_counter()
            backends[name].encode(texts)
            seconds[name].append(time.perf_counter() - tick)
        loads.append(round(os.getloadavg()[0], 2))
        print(f"  round {round_ + 1}/{repeats} (load {loads[-1]}): "
              + ", ".join(f"{n} {len(texts) / seconds[n][-1]:,.0f}" for n in names) + " posts/s", flush=True)
    figures = {"load_average_1min_per_round": loads}
    for name, times in seconds.items():
        ratios = [reference / own for reference, own in zip(seconds[REFERENCE], times)]
        figures[name] = {"posts_per_second": round(len(texts) / statistics.median(times), 1),
                         "relative_to_torch_fp32": round(statistics.median(ratios), 2),
                         "relative_per_round": [round(r, 2) for r in ratios],
                         "seconds": [round(x, 2) for x in times]}
    return figures


def cache_figures(encoder, texts: list[str], vectors: np.ndarray, scratch: Path, repeats: int) -> dict:
    """Bytes per vector on disk, and posts/s of the embed step (`embed_texts`) once every
    vector is cached (SQLite reads, no encoder); and float16 storage's cosine loss."""
    from pipeline.embed import embed_texts
    from pipeline.models.embedding_cache import EmbeddingCache

    cache = EmbeddingCache(scratch / "cache" / "vectors.sqlite", encoder.identity, encoder.dimension)
    embed_texts(encoder, texts, cache)
    cache.close()
    size = sum(f.stat().st_size for f in (scratch / "cache").iterdir())
    warm = []
    for _ in range(repeats):
        cache = EmbeddingCache(scratch / "cache" / "vectors.sqlite", encoder.identity, encoder.dimension)
        tick = time.perf_counter()
        _, counts = embed_texts(encoder, texts, cache)
        warm.append(time.perf_counter() - tick)
        cache.close()
    halves = vectors.astype(np.float16).astype(np.float32)
    cosines = np.sum(vectors * halves, axis=1) / np.linalg.norm(halves, axis=1)
    return {"distinct_texts": counts["distinct_texts"], "bytes_on_disk_per_vector": round(size / counts["distinct_texts"]),
            "warm_posts_per_second": round(len(texts) / statistics.median(warm)),
            "warm_cache_hits": counts["cache_hits"], "float16_cosine_min": round(float(cosines.min()), 7)}


def print_summary(agreement: dict, downstream: dict, speed: dict, cache: dict) -> None:
    print("per backend (cosine with torch-fp32 over the real posts; topics-e5 on the gold dev posts; speed):")
    print_table(["backend", "cos min", "cos p1", "cos mean", "micro-F1", "macro-F1", "labels = torch", "posts/s",
                 "x torch-fp32"],
                [[name, f"{a['cosine_min']:.4f}", f"{a['cosine_p1']:.4f}", f"{a['cosine_mean']:.4f}",
                  f"{downstream[name]['micro_f1']:.4f}", f"{downstream[name]['macro_f1']:.4f}",
                  f"{100 * downstream[name]['label_sets_equal']:.1f}%", f"{speed[name]['posts_per_second']:,.0f}",
                  f"{speed[name]['relative_to_torch_fp32']:.2f}"] for name, a in agreement.items()])
    print("F1 difference with torch-fp32 on the gold dev posts, 95 % paired bootstrap interval: " + "; ".join(
        f"{name} micro {f['f1_difference_95ci']['micro_f1']}, macro {f['f1_difference_95ci']['macro_f1']}"
        for name, f in downstream.items() if name != REFERENCE))
    print(f"embedding cache: {cache['bytes_on_disk_per_vector']:,} bytes per vector on disk; a warm cache serves "
          f"{cache['warm_posts_per_second']:,} posts/s; float16 storage would keep cosine >= {cache['float16_cosine_min']}")


if __name__ == "__main__":  # `python -m benchmarks.encoder [options]`: this benchmark alone
    from benchmarks.harness import DEFAULT_DATA_DIR

    parser = argparse.ArgumentParser(prog="python -m benchmarks.encoder", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, metavar="DIR", help="shared data folder")
    add_arguments(parser)
    run(parser.parse_args())
