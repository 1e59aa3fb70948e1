"""Language-ID accuracy of `pipeline.langid.detect_languages` with the shipped configuration.

Each data set answers a different question:
- SIB-200 dev: Flores sentences, human-translated, one per row: accuracy on clean text.
- UMSAB val: tweets whose label is the language of their collection, not of each tweet:
  accuracy on real tweets, over all of them and over those with enough letters to judge.
- World leaders' posts: no per-post label, so only agreement with each account's usual
  language, a sanity figure (Trudeau really does post in French).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from benchmarks.harness import RESULTS_DIR, WORLD_LEADERS_FILE, data_file, fail, percent, print_table, save_results
from pipeline.config import load_config
from pipeline.langid import UNDETERMINED, build_detector, detect_languages
from pipeline.normalize import language_view

NAME = "langid"
DISAGREEMENTS_FILE = RESULTS_DIR / "langid_disagreements.txt"

SIB_FILE = "sib-200/sib200_topic_target_langs.csv"
UMSAB_FILE = "umsab-xlmt-tweets/umsab.csv"

# The 11 target languages; Arabic as Modern Standard Arabic only, Chinese in both scripts.
SIB_MAIN_CODES = ("arb_Arab", "fra_Latn", "eng_Latn", "spa_Latn", "rus_Cyrl", "zho_Hans", "zho_Hant",
                  "deu_Latn", "por_Latn", "tur_Latn", "pes_Arab", "heb_Hebr")
SIB_ARABIC_DIALECTS = ("acm_Arab", "acq_Arab", "aeb_Arab", "ajp_Arab", "apc_Arab", "ars_Arab",
                       "ary_Arab", "arz_Arab")
# Romanised Arabic and Dari: reported, but not what the main figure is about.
SIB_APART = ("arb_Latn", "prs_Arab")
UMSAB_LANGUAGES = ("ar", "en", "fr", "de", "es", "pt", "it", "hi")
MIN_LETTERS_CUTS = (10, 20)
TOP_WRONG = 3
SAMPLE_SEED = 20251128  # disagreement examples are a fixed sample, so reruns are comparable
AGREEMENT_LABEL = "agreement with the account's usual language, not accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("langid")
    group.add_argument("--examples", type=int, default=10, metavar="N",
                       help=f"disagreements per language (code, account) written to {DISAGREEMENTS_FILE.name} (default 10)")


def run(args: argparse.Namespace) -> None:
    if args.examples < 0:
        fail("--examples must be 0 or more")
    settings = load_config()["langid"]
    tick = time.perf_counter()
    build_detector(tuple(settings["languages"]))  # loaded once here, so per-set speeds exclude it
    timing = {"model_load_seconds": round(time.perf_counter() - tick, 2)}

    sib, sib_figures, timing["sib200_texts_per_second"] = sib200_accuracy(args.data, settings)
    umsab, umsab_figures, timing["umsab_texts_per_second"] = umsab_accuracy(args.data, settings)
    leaders, leaders_figures, timing["world_leaders_texts_per_second"] = world_leaders_agreement(args.data, settings)

    cut = MIN_LETTERS_CUTS[0]
    write_disagreements(DISAGREEMENTS_FILE, args.examples, [
        (f"UMSAB val, tweets with >= {cut} letters (shorter ones are mostly emoji, links, mentions)",
         umsab[(umsab["letters"] >= cut) & (umsab["lang"] != umsab["gold"])], "gold"),
        ("SIB-200 dev", sib[sib["lang"] != sib["gold"]], "flores_code"),
        ("World leaders: posts not in the account's usual language (often right: Macron in English)",
         leaders[~leaders["agrees"]], "account"),
    ])
    print(f"\nup to {args.examples} disagreements per language, code and account: {DISAGREEMENTS_FILE}")
    print(f"model load {timing['model_load_seconds']} s; detection "
          f"{timing['sib200_texts_per_second']:,.0f} / {timing['umsab_texts_per_second']:,.0f} / "
          f"{timing['world_leaders_texts_per_second']:,.0f} texts/s (SIB-200 / UMSAB / world leaders)")
    path = save_results(NAME, {"langid_config": settings, "sib200_dev": sib_figures, "umsab_val": umsab_figures,
                               "world_leaders": leaders_figures, "timing": timing})
    print(f"figures: {path}")


def detect_timed(frame: pd.DataFrame, settings: dict) -> tuple[pd.DataFrame, float]:
    """`frame` with the detector's lang and confidence, and the texts per second it took."""
    tick = time.perf_counter()
    detected = detect_languages(frame["text"].tolist(), settings)
    rate = len(frame) / max(time.perf_counter() - tick, 1e-9)
    frame = frame.reset_index(drop=True).assign(lang=detected["lang"], lang_confidence=detected["lang_confidence"])
    return frame, round(rate, 1)


def score(gold: pd.Series, predicted: pd.Series) -> dict:
    """Accuracy and the most frequent wrong labels (`und` counts as wrong)."""
    correct = gold.to_numpy() == predicted.to_numpy()
    wrong = predicted[~correct].value_counts()
    return {"n": len(gold), "correct": int(correct.sum()),
            "accuracy": round(float(correct.mean()), 4) if len(gold) else None,
            "top_wrong": {str(label): int(count) for label, count in wrong.head(TOP_WRONG).items()}}


def score_groups(frame: pd.DataFrame, by: str) -> dict:
    return {str(key): score(group["gold"], group["lang"]) for key, group in frame.groupby(by, sort=True)}


def read_rows(path: Path, column: str, wanted: tuple[str, ...], split: str) -> pd.DataFrame:
    """Rows of one split whose `column` is among `wanted`; stops if any wanted value has none."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = table[(table["split"] == split) & table[column].isin(wanted)]
    missing = sorted(set(wanted) - set(rows[column]))
    if missing:
        fail(f"{path}: no {split} rows for {', '.join(missing)}")
    return rows


def sib200_accuracy(data_dir: Path, settings: dict) -> tuple[pd.DataFrame, dict, float]:
    codes = SIB_MAIN_CODES + SIB_ARABIC_DIALECTS + SIB_APART
    rows = read_rows(data_file(data_dir, SIB_FILE), "flores_code", codes, "dev")
    frame, rate = detect_timed(rows.assign(gold=rows["iso639_1"]), settings)
    main = frame[frame["flores_code"].isin(SIB_MAIN_CODES)]
    dialects = frame[frame["flores_code"].isin(SIB_ARABIC_DIALECTS)]
    figures = {
        "main": {"codes": list(SIB_MAIN_CODES), "overall": score(main["gold"], main["lang"]),
                 "per_language": score_groups(main, "gold"), "per_code": score_groups(main, "flores_code")},
        "arabic_dialects": {"overall": score(dialects["gold"], dialects["lang"]),
                            "per_code": score_groups(dialects, "flores_code")},
        "apart": score_groups(frame[frame["flores_code"].isin(SIB_APART)], "flores_code"),
    }

    print("\n== SIB-200 dev (Flores sentences), shipped langid config ==")
    overall = figures["main"]["overall"]
    print(f"main figure, 11 languages ({len(SIB_MAIN_CODES)} codes): accuracy {percent(overall['accuracy'])} "
          f"({overall['correct']}/{overall['n']})")
    print_score_table("language", figures["main"]["per_language"])
    print("Chinese by script:")
    print_score_table("code", {code: figures["main"]["per_code"][code] for code in ("zho_Hans", "zho_Hant")})
    dialect_overall = figures["arabic_dialects"]["overall"]
    print(f"extra: Arabic dialects (gold ar): accuracy {percent(dialect_overall['accuracy'])} "
          f"({dialect_overall['correct']}/{dialect_overall['n']})")
    print_score_table("code", figures["arabic_dialects"]["per_code"])
    print("extra: romanised Arabic (gold ar) and Dari (gold fa), outside the main figure:")
    print_score_table("code", figures["apart"])
    return frame, figures, rate


def umsab_accuracy(data_dir: Path, settings: dict) -> tuple[pd.DataFrame, dict, float]:
    rows = read_rows(data_file(data_dir, UMSAB_FILE), "iso639_1", UMSAB_LANGUAGES, "val")
    frame, rate = detect_timed(rows.assign(gold=rows["iso639_1"]), settings)
    # The letters the detector reads: what is left once URLs, mentions, hashtags, emoji are gone.
    frame["letters"] = [sum(ch.isalpha() for ch in language_view(text)) for text in frame["text"]]
    figures = {"all_tweets": {"overall": score(frame["gold"], frame["lang"]),
                              "per_language": score_groups(frame, "gold"),
                              "und": {lang: int(n) for lang, n in
                                      frame[frame["lang"] == UNDETERMINED].groupby("gold").size().items()}}}
    for cut in MIN_LETTERS_CUTS:
        kept = frame[frame["letters"] >= cut]
        excluded = frame[frame["letters"] < cut].groupby("gold").size()
        figures[f"min_letters_{cut}"] = {
            "overall": score(kept["gold"], kept["lang"]), "per_language": score_groups(kept, "gold"),
            "excluded_total": int(excluded.sum()), "excluded": {lang: int(n) for lang, n in excluded.items()}}

    print("\n== UMSAB val tweets (label = language of the collection) ==")
    headers = ["language", "all tweets", "und"] + [f">={cut} letters (excluded)" for cut in MIN_LETTERS_CUTS]
    table = []
    for lang in UMSAB_LANGUAGES + ("overall",):
        und = figures["all_tweets"]["und"]
        row = [lang, section_accuracy(figures["all_tweets"], lang),
               sum(und.values()) if lang == "overall" else und.get(lang, 0)]
        for cut in MIN_LETTERS_CUTS:
            section = figures[f"min_letters_{cut}"]
            excluded = section["excluded_total"] if lang == "overall" else section["excluded"].get(lang, 0)
            row.append(f"{section_accuracy(section, lang)} ({excluded})")
        table.append(row)
    print_table(headers, table)
    print(f"wrong labels over tweets with >={MIN_LETTERS_CUTS[0]} letters:")
    print_score_table("language", figures[f"min_letters_{MIN_LETTERS_CUTS[0]}"]["per_language"])
    return frame, figures, rate


def world_leaders_agreement(data_dir: Path, settings: dict) -> tuple[pd.DataFrame, dict, float]:
    posts = pd.read_csv(data_file(data_dir, WORLD_LEADERS_FILE), dtype=str, keep_default_na=False)
    with_text = posts[posts["text"].str.strip() != ""]
    frame, rate = detect_timed(with_text.assign(gold=with_text["account_main_lang"]), settings)
    # "en+fr" accounts: a post in either language agrees.
    frame["agrees"] = [lang in usual.split("+") for lang, usual in zip(frame["lang"], frame["account_main_lang"])]
    per_account = {}
    for account, group in frame.groupby("account", sort=True):
        others = group.loc[~group["agrees"], "lang"].value_counts()
        per_account[account] = {
            "usual_language": group["account_main_lang"].iloc[0], "posts": len(group),
            "agreement": round(float(group["agrees"].mean()), 4),
            "und_share": round(float((group["lang"] == UNDETERMINED).mean()), 4),
            "top_other": {str(lang): int(n) for lang, n in others.head(TOP_WRONG).items()}}
    figures = {"label": AGREEMENT_LABEL, "posts": len(frame), "skipped_empty_text": len(posts) - len(with_text),
               "overall_agreement": round(float(frame["agrees"].mean()), 4), "per_account": per_account}

    print(f"\n== World leaders' posts: {AGREEMENT_LABEL} ==")
    print(f"{len(frame):,} posts with text ({figures['skipped_empty_text']} empty skipped); "
          f"overall {percent(figures['overall_agreement'])}")
    print_table(["account", "usual", "posts", "agreement", "und", "other labels"],
                [[account, f["usual_language"], f"{f['posts']:,}", percent(f["agreement"]), percent(f["und_share"]),
                  format_counts(f["top_other"])] for account, f in per_account.items()])
    return frame, figures, rate


def section_accuracy(section: dict, lang: str) -> str:
    """One language's accuracy in a scored section, or the section's overall one."""
    scored = section["overall"] if lang == "overall" else section["per_language"].get(lang)
    return percent(scored["accuracy"] if scored else None)


def format_counts(counts: dict) -> str:
    return ", ".join(f"{label} {n}" for label, n in counts.items()) or "-"


def print_score_table(key_name: str, scores: dict) -> None:
    print_table([key_name, "n", "accuracy", "top wrong labels"],
                [[key, s["n"], percent(s["accuracy"]), format_counts(s["top_wrong"])] for key, s in scores.items()])


def write_disagreements(path: Path, examples: int, sections: list[tuple[str, pd.DataFrame, str]]) -> None:
    """A fixed sample of wrong detections per group (title, wrong rows, group column), one per line."""
    lines = ["# Language-ID disagreements with the shipped config: gold -> detected (confidence[, letters]).",
             f"# Up to {examples} per group, sampled with seed {SAMPLE_SEED}. Newlines shown as ' | '.", ""]
    for title, wrong, by in sections:
        lines.append(f"== {title} ==")
        for key, group in wrong.groupby(by, sort=True):
            lines.append(f"-- {key}: {len(group)} disagreements")
            for _, row in group.sample(n=min(examples, len(group)), random_state=SAMPLE_SEED).sort_index().iterrows():
                text = " | ".join(row["text"].splitlines())
                letters = f", {row['letters']} letters" if "letters" in row else ""
                lines.append(f"{row['gold']} -> {row['lang']} ({row['lang_confidence']:.2f}{letters}): {text}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
