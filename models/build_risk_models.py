"""Build the shipped text-flag models from the shared data: `check-worthy` (e5 vectors) and
`abusive` (TF-IDF n-grams beside the e5 vectors) for the accurate profile, and
`check-worthy-fast`, `abusive-fast` (TF-IDF alone) for the fast profile.

    python models/build_risk_models.py [--data ../shared/data] [--encoder DIR] [--cache DIR]

1. The data: `pipeline.risk.text_flags.load_checkworthy` / `load_abusive` (every SOURCE.md
   caveat is handled there: official dev splits kept, hash splits elsewhere, cross-set
   duplicates, label definitions). Dev rows are never trained on.
2. Training rows of the largest sets are capped (`--cap SOURCE:LANG=N`, a seeded random
   sample) so that embedding fits the time at hand; the fast models train on every row.
3. One logistic-regression head (`train_flag_model`), its thresholds tuned on out-of-fold
   scores of the training rows, one per language, for the measure each flag is judged by
   (F1 of the flag for check-worthy, macro-F1 for abusive), so that the dev splits stay
   untouched for the report.
4. Every dev split is scored per source and language: F1 of the flagged class, of the other
   class and their mean (macro-F1, the binary tasks' usual measure); the model cards
   (`README.md`) and full reports (`evaluation.json`) are written beside the weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from pipeline.models.encoder import Encoder, VectorCache, build_arguments  # noqa: E402
from pipeline.models.heads import as_saved, inputs_from_vectors  # noqa: E402
from pipeline.risk.text_flags import (ABUSIVE, CHECK_WORTHY, flag_report, load_abusive,  # noqa: E402
                                      load_checkworthy, train_flag_model)
from pipeline.topics.training import model_metadata  # noqa: E402

DEFAULT_CAPS = ("checkthat2024:en=15000",)
FAST_C = 4.0

TASKS = {  # model name -> (flag, loader, what the card says the flag means, accurate features, their C)
    # check-worthy: C of 1, 4, 16 by 3-fold out-of-fold F1 on the training rows. Hybrid features
    # gave no gain here (dev F1 ar 0.459 vs 0.462, en 0.864 vs 0.869, CheckThat! 2020 0.695 vs 0.667).
    "check-worthy": (CHECK_WORTHY, load_checkworthy,
                     "a sentence or post states a factual claim worth fact-checking (CheckThat! definition)",
                     "encoder", 16.0),
    # abusive: of C 4 and 16, 4 scored higher on abusive dev (OLID 0.722 vs 0.693, the other sets
    # within 0.01), the one choice made on a dev split. A 512-unit network beside the head
    # (TextClassifier's hidden_units) raised dev macro-F1 on MLMA fr 0.593 -> 0.632 (OLID 0.737 ->
    # 0.738, OSACT4 0.837 -> 0.823), but on the sample archive it flagged 8.3 % of the posts
    # instead of 7.2 %, 43 % of the Portuguese ones instead of 27 %, and the posts it added read
    # as false alarms (a seminar, a childhood memory): not kept. Neither for check-worthy:
    # CheckThat! 2024 ar F1 0.485 with it, 0.498 without (en 0.897 vs 0.874).
    "abusive": (ABUSIVE, load_abusive,
                "a post is offensive, abusive or hateful (insults, threats, profanity aimed at someone, hate speech)",
                "hybrid", 4.0),
}

LICENCES = {
    "checkthat2024": "research use (CheckThat! 2024 organisers; copies without a data licence); cite Hasanain et al. 2024",
    "checkthat2020": "\"free for general research use\" (organisers' README); cite CheckThat! 2020",
    "osact4": "CC-BY (OffensEval 2020 Arabic page); cite Mubarak et al., OSACT 2020",
    "olid": "none stated; research use, cite Zampieri et al., NAACL 2019",
    "mlma": "MIT (HKUST-KnowComp repository); cite Ousidhoum et al., EMNLP 2019",
    "l_hsab": "none stated; research use, cite Mulki et al., ALW3 2019",
    "hateval": "TweetEval: no restrictions of its own, task data's may apply; cite Basile et al. 2019",
}

GOALS = {  # (model, source, lang) -> (measure, goal), as set in issue #4
    ("check-worthy", "checkthat2024", "ar"): ("f1_flagged", 0.60),
    ("check-worthy", "checkthat2024", "en"): ("f1_flagged", 0.80),
    ("abusive", "olid", "en"): ("macro_f1", 0.78),
    ("abusive", "osact4", "ar"): ("macro_f1", 0.80),
    ("abusive", "mlma", "fr"): ("macro_f1", 0.60),
}


def main(argv: list[str] | None = None) -> int:
    parser = build_arguments(__doc__.splitlines()[0], REPO_ROOT)
    parser.add_argument("--cap", action="append", default=None,
                        help="SOURCE:LANG=N, at most N training rows of that set for the e5 heads "
                             f"(default: {' '.join(DEFAULT_CAPS)}; 'none' for no cap)")
    parser.add_argument("--only", choices=sorted(TASKS), help="build one task's models")
    parser.add_argument("--profile", choices=("accurate", "fast"), help="build only the e5 or only the TF-IDF models")
    args = parser.parse_args(argv)
    caps = parse_caps(args.cap if args.cap is not None else list(DEFAULT_CAPS))

    if args.profile != "fast":
        encoder, cache = Encoder(args.encoder), VectorCache(args.cache)
    for name, (flag, loader, _, accurate_features, accurate_C) in TASKS.items():
        if args.only and name != args.only:
            continue
        data = loader(args.data)
        train, dev = data[data["split"] == "train"].reset_index(drop=True), data[data["split"] == "dev"].reset_index(drop=True)
        builds = []
        if args.profile != "fast":
            capped = cap_rows(train, caps).reset_index(drop=True)
            print(f"{name}: {len(capped):,} training rows for the e5 head ({len(train):,} in all), "
                  f"{len(dev):,} dev rows", flush=True)
            vectors = {part: cache.encode(encoder, frame["text"].tolist(), report_as=f"{name} {part}")
                       for part, frame in (("dev", dev), ("train", capped))}
            inputs_train = inputs_from_vectors(capped["text"], vectors["train"], accurate_features)
            inputs_dev = inputs_from_vectors(dev["text"], vectors["dev"], accurate_features)
            accurate = train_flag_model(capped, flag, accurate_features, accurate_C, inputs=inputs_train)
            builds.append((name, accurate, capped, inputs_dev, accurate_features))
        if args.profile != "accurate":
            fast = train_flag_model(train, flag, "tfidf", FAST_C, inputs=train["text"].tolist())
            builds.append((f"{name}-fast", fast, train, dev["text"].tolist(), "tfidf"))
        for model_name, model, trained_on, inputs, features in builds:
            report = flag_report(as_saved(model), dev, inputs)  # the figures of the model as shipped
            sizes = train.groupby(["source", "lang"]).size()
            report["caps"] = {f"{s}:{l}": n for (s, l), n in caps.items()
                              if features != "tfidf" and sizes.get((s, l), 0) > n}
            folder = args.out / model_name
            model.save(folder, model_metadata(model_name, features, trained_on, {
                "task": flag, "summary": summary(report)}))
            (folder / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
            (folder / "README.md").write_text(model_card(model_name, name, features, trained_on, train, report), "utf-8")
            print(f"{model_name}: {json.dumps(summary(report))}", flush=True)
    return 0


def parse_caps(values: list[str]) -> dict[tuple[str, str], int]:
    caps = {}
    for value in values:
        if value == "none":
            continue
        target, _, count = value.partition("=")
        source, _, lang = target.partition(":")
        caps[(source, lang)] = int(count)
    return caps


def cap_rows(train: pd.DataFrame, caps: dict[tuple[str, str], int]) -> pd.DataFrame:
    parts = []
    for (source, lang), group in train.groupby(["source", "lang"], sort=True):
        limit = caps.get((source, lang))
        parts.append(group.sample(limit, random_state=0) if limit and len(group) > limit else group)
    return pd.concat(parts)


def summary(report: dict) -> dict:
    return {key: {"f1_flagged": s["f1_flagged"], "macro_f1": s["macro_f1"]} for key, s in report["sets"].items()}


METRIC_WORDS = {"f1": "F1 of `{flag}`", "macro_f1": "macro-F1 (mean F1 of `{flag}` and of the other posts)"}

CARD_INTRO = {
    "encoder": "Accurate profile: one logistic-regression head over the multilingual-e5-small vectors "
               "(the `embed` stage; set up with `diplolens models setup`).",
    "hybrid": "Accurate profile: one logistic-regression head over TF-IDF character n-grams side by side "
              "with the multilingual-e5-small vectors (the `embed` stage; set up with `diplolens models setup`).",
    "tfidf": "Fast profile (no torch): TF-IDF character n-grams and one logistic-regression head.",
}

NOTES = {
    "check-worthy": [
        "CheckThat! 2024 English is sentences from US political debates and speeches, not posts; Arabic and "
        "CheckThat! 2020 are tweets (COVID-19 and politics). One English threshold serves both genres.",
        "Anchors (CheckThat! 2024, positive-class F1 on the official *test* sets, values commonly cited, "
        "not verified here): best Arabic about 0.57, best English about 0.80. Ours are on the official dev sets.",
        "Arabic dev is far from Arabic train (30 % vs 38 % flagged; 3-fold out-of-fold F1 on train about 0.60, "
        "dev 0.44-0.47): with Arabic-only heads on the same vectors, TF-IDF, or both, even a threshold tuned on "
        "dev itself reaches at most 0.56 (experiment of 2026-11-29, not shipped), so the 0.60 goal needs more "
        "than a frozen encoder with a linear head.",
    ],
    "abusive": [
        "Positive = offensive in the broad OffensEval sense (any profanity, insult, threat or hate), "
        "which is wider than abuse aimed at diplomats: review flags before counting them.",
        "OSACT4 and OLID dev are 20 % hash splits of their train files (the official OSACT4 dev and OLID test "
        "are not in the shared data); MLMA and L-HSAB have no official split either. HatEval dev is its "
        "official val split scored as hate vs not-hate: the not-hate side holds insults this model rightly "
        "flags, so its figures understate it.",
        "MLMA was collected with hate keywords: its dev set is mostly positive (its macro-F1 rests on few "
        "`normal` tweets), and its texts are the authors' lower-cased, partly de-accented versions.",
        "Why n-grams beside the vectors: the first accurate model, an e5-only head, scored below the TF-IDF "
        "`abusive-fast` on OSACT4 (0.745 vs 0.844), L-HSAB (0.705 vs 0.790) and OLID dev (0.680 vs 0.703): "
        "frozen e5 vectors carry topic more than insult words. Both views together beat either.",
        "One choice was made on these dev sets: the regularisation C of this model (4 rather than 16, "
        "OLID 0.722 vs 0.693 in a first build), so its dev figures are slightly optimistic.",
        "Anchors: OLID test macro-F1 0.829 (OffensEval 2019 winner), TweetEval RoBERTa-base 0.795; these are "
        "test-set figures of fine-tuned transformers, ours are dev figures of a frozen encoder.",
    ],
}


def model_card(model_name: str, task: str, features: str, trained_on: pd.DataFrame, all_train: pd.DataFrame,
               report: dict) -> str:
    flag, _, meaning, _, _ = TASKS[task]
    meta = model_metadata(model_name, features, trained_on)
    thresholds = ", ".join(f"{name} {value}" for name, value in report["thresholds"].items())
    lines = [f"# {model_name}", "", f"Flags `{flag}`: {meaning}. {CARD_INTRO[features]}", "",
             f"- Version: DiploLens {meta['version']}; built {meta['trained_at'][:10]} by "
             f"`python models/build_risk_models.py --only {task} --profile "
             f"{'fast' if features == 'tfidf' else 'accurate'}` (data loading and every caveat: "
             "`pipeline/risk/text_flags.py`).",
             f"- Use: `pipeline.models.load(\"{model_name}\")`; `predict_proba(texts)[:, 0]` is the score, "
             f"`predict(texts, languages)` applies each text's language threshold (the overall one for other "
             f"languages or without `languages`; scikit-learn contract). Texts are read after `normalize_text`.",
             f"- Thresholds (probability), tuned for {METRIC_WORDS[report['threshold_metric']].format(flag=flag)} on "
             "3-fold out-of-fold scores of the training rows, one per language with at least 10 rows of each "
             f"class: {thresholds}; the dev sets below were never trained or tuned on.", "",
             "## Training data", "", "| source | language | rows | flagged | licence |", "|---|---|---|---|---|"]
    counts = trained_on.assign(flagged=trained_on["labels"].map(bool)).groupby(["source", "lang"])["flagged"]
    for (source, lang), n in counts.size().items():
        lines.append(f"| {source} | {lang} | {n:,} | {int(counts.sum()[(source, lang)]):,} | {LICENCES[source]} |")
    if report["caps"]:
        lines += ["", "Caps (time to embed on 2 CPU cores): " + ", ".join(
            f"{key} at most {n:,} of {int(((all_train['source'] + ':' + all_train['lang']) == key).sum()):,} rows "
            f"(seeded random sample)" for key, n in report["caps"].items()) + "."]
    lines += ["", "## Evaluation (dev sets, never trained or tuned on)", "",
              "| dev set | rows | flagged | precision | recall | F1 flagged | F1 other | macro-F1 | goal |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key, s in report["sets"].items():
        source, lang = key.split("/")
        goal = GOALS.get((task, source, lang))
        verdict = (f"{goal[0].replace('_', '-')} >= {goal[1]}: {'met' if s[goal[0]] >= goal[1] else 'not met'}"
                   if goal else "")
        lines.append(f"| {key} | {s['rows']:,} | {s['flagged']:,} | {s['precision_flagged']:.3f} | "
                     f"{s['recall_flagged']:.3f} | {s['f1_flagged']:.3f} | {s['f1_other']:.3f} | "
                     f"{s['macro_f1']:.3f} | {verdict} |")
    lines += ["", "Full figures: `evaluation.json`.", "", "## Limits", ""]
    lines += [f"- {note}" for note in NOTES[task]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
