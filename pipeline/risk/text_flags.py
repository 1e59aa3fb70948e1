"""Post-level text flags: `check_worthy`, `abusive` (trained heads) and `low_credibility_link`.

The two text flags are binary `TextClassifier`s (one label each, `models/check-worthy`,
`models/abusive`, and their TF-IDF twins `*-fast`), built by `models/build_risk_models.py`
from the public sets loaded here. Each loader returns one frame with `text` (normalised as
posts are in a run), `labels` (`["check_worthy"]`/`[]`, `["abusive"]`/`[]`), `lang`,
`source` and `split` (`train` or `dev`); dev rows are never trained on. `train_flag_model` and
`flag_report` train and measure a flag's model (the build script and `diplolens train|evaluate
check_worthy|abusive` both use them).

How each source's caveats (its SOURCE.md) are handled, in one place:

- Official dev splits stay dev (CheckThat! 2024 ar/en, CheckThat! 2020 en, HatEval val).
  The official test splits are not in the shared data and are not used.
  Sets shipped without a dev split here (OSACT4: its dev file is not in the shared copy;
  OLID: only train; MLMA and L-HSAB: no split at all) get one from a hash of the
  matching key (below): 20 % dev, the same on every machine, and one text always on one side.
- Duplicates: texts are compared by a matching key (casefolded, platform placeholders and
  punctuation dropped, spaces collapsed). A key in any dev row is removed from every
  training row of every source (measured: CheckThat! 2024 English train and dev share 11
  sentences; OLID, MLMA-en and HatEval a few short tweets; the Arabic sets none, but
  they are tweets of the same years). Within a split a key is kept once per source
  (L-HSAB alone repeats 101 texts); a training key whose sources disagree on the label
  is dropped.
- Placeholders: OSACT4 and OLID write `@USER`, `URL`, `<LF>`; MLMA `@user`, `@url` (`@URL` in English). A run's
  normalised text has no URLs and keeps mentions, so URL placeholders are removed,
  `<LF>` becomes a space and `@USER` becomes `@user`.
- Labels: OSACT4 `OFF` (which includes all hate speech), OLID level A `OFF`, L-HSAB `abusive`
  or `hate`, MLMA any hostility other than single-label `normal` (the authors' own binary
  reading) are `abusive`. HatEval's `hate` means hate against immigrants or women only; its
  `not-hate` tweets include plain insults, which every other set calls offensive. Its
  tweets do not train (as negatives they contradict the other sets; as positives alone
  they taught the head that tweets about migrants or women are abusive: measured, HatEval
  dev macro-F1 0.34 with them, 0.46 without, the other sets unchanged or better); its val
  split is reported for what it is (hate vs not-hate, not abusive vs not).
- CheckThat! 2024 was read with QUOTE_NONE: English sentences keep the TSV's quoting
  (`"I was in Houston ..."`, `""Crocodile Dundee.""`); the wrapping quotes are removed and doubled ones undoubled.
  CheckThat! 2020's `claim` column is not the target (`check_worthiness` is).
- MLMA's texts are the authors' lower-cased, partly de-accented versions, and its English
  file holds some French tweets: `lang` stays the file's language (the figures say which file).
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from pipeline.errors import UserError
from pipeline.normalize import normalize_text

CHECK_WORTHY = "check_worthy"
ABUSIVE = "abusive"
# Each flag's thresholds are tuned for the measure it is judged by (issue #4): F1 of the
# flagged class for check_worthy (CheckThat!'s measure), macro-F1 for abusive (OffensEval's).
THRESHOLD_METRICS = {CHECK_WORTHY: "f1", ABUSIVE: "macro_f1"}
SHIPPED_MODELS = {CHECK_WORTHY: {"accurate": "check-worthy", "fast": "check-worthy-fast"},
                  ABUSIVE: {"accurate": "abusive", "fast": "abusive-fast"}}
DEV_SHARE = 0.2
DOMAINS_FILE = Path(__file__).resolve().parents[2] / "corpora" / "low_credibility_domains.csv"

_URL_PLACEHOLDER = re.compile(r"(?<![\w@])@?url\b", re.IGNORECASE)
_USER_PLACEHOLDER = re.compile(r"@USER\b")
_NOT_WORD = re.compile(r"[^\w]+")


# --- check_worthy -------------------------------------------------------------------------------

def load_checkworthy(data_dir: Path) -> pd.DataFrame:
    """CheckThat! 2024 Task 1 (ar tweets, en debate sentences) and CheckThat! 2020 Task 1 (en
    COVID-19 tweets), official train and dev."""
    data_dir = Path(data_dir)
    ct24, ct20 = data_dir / "checkthat2024_task1_checkworthiness", data_dir / "checkthat2020_task1_en_tweets"
    parts = []
    for lang, text_column in (("arabic", "tweet_text"), ("english", "Text")):
        for split in ("train", "dev"):
            raw = _read(ct24 / f"CT24_{lang}_{split}.csv")
            parts.append(_frame(raw[text_column].map(_unquote_tsv), raw["class_label"] == "Yes", CHECK_WORTHY,
                                raw["lang"], "checkthat2024", split))
    for split in ("train", "dev"):
        raw = _read(ct20 / f"CT20_en_{split}.csv")
        parts.append(_frame(raw["tweet_text"], raw["check_worthiness"] == "1", CHECK_WORTHY, "en",
                            "checkthat2020", split))
    return _resolve_overlaps(pd.concat(parts, ignore_index=True))


def _unquote_tsv(text: str) -> str:
    if len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text.replace('""', '"')


# --- abusive -------------------------------------------------------------------------------------

def load_abusive(data_dir: Path) -> pd.DataFrame:
    """OSACT4 (ar), OLID level A (en), MLMA (ar/en/fr), L-HSAB (Levantine ar); HatEval (en)
    val for evaluation only."""
    data_dir = Path(data_dir)
    osact = _read(data_dir / "osact4_arabic_offensive" / "osact4_train.csv")
    olid = _read(data_dir / "olid_offenseval2019_en" / "olid_train.csv")
    lhsab = _read(data_dir / "l_hsab_levantine" / "l_hsab.csv")
    parts = [
        _frame(osact["tweet"], osact["off_label"] == "OFF", ABUSIVE, "ar", "osact4", None),
        _frame(olid["tweet"], olid["subtask_a"] == "OFF", ABUSIVE, "en", "olid", None),
        _frame(lhsab["tweet"], lhsab["label"].isin(["abusive", "hate"]), ABUSIVE, "ar", "l_hsab", None),
    ]
    for lang in ("ar", "en", "fr"):
        mlma = _read(data_dir / "mlma_hate_speech" / f"mlma_{lang}.csv")
        parts.append(_frame(mlma["tweet"], mlma["sentiment"] != "normal", ABUSIVE, lang, "mlma", None))
    hateval = _read(data_dir / "tweeteval_hateval_en" / "hate_val.csv")
    parts.append(_frame(hateval["text"], hateval["label"] == "1", ABUSIVE, "en", "hateval", "dev"))
    return _resolve_overlaps(pd.concat(parts, ignore_index=True))


# --- shared loading rules -----------------------------------------------------------------------

def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _frame(texts, positive, label: str, lang, source: str, split: str | None) -> pd.DataFrame:
    """Rows of one source; `split` None: assigned by the hash of the matching key."""
    texts = [normalize_text(_placeholders_as_in_posts(t)) for t in texts]
    frame = pd.DataFrame({"text": texts, "positive": pd.Series(positive).to_numpy(bool), "lang": lang,
                          "source": source})
    frame["key"] = frame["text"].map(match_key)
    frame["split"] = split if split else frame["key"].map(_hash_split)
    frame["labels"] = [[label] if p else [] for p in frame["positive"]]
    return frame


def _placeholders_as_in_posts(text: str) -> str:
    return _USER_PLACEHOLDER.sub("@user", _URL_PLACEHOLDER.sub(" ", text.replace("<LF>", " ")))


def match_key(text: str) -> str:
    """What two copies of one tweet share across sets: words only, casefolded, no mentions."""
    return " ".join(_NOT_WORD.sub(" ", text.replace("@user", " ").casefold()).split())


def _hash_split(key: str) -> str:
    share = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "dev" if share < DEV_SHARE else "train"


def _resolve_overlaps(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[frame["key"] != ""]
    dev_keys = set(frame.loc[frame["split"] == "dev", "key"])
    train = frame[(frame["split"] == "train") & ~frame["key"].isin(dev_keys)]
    agreeing = train.groupby("key")["positive"].nunique() == 1
    train = train[train["key"].map(agreeing)]
    frame = pd.concat([train, frame[frame["split"] == "dev"]]).drop_duplicates(["source", "split", "key"])
    return frame[["text", "labels", "lang", "source", "split"]].reset_index(drop=True)


# --- training and evaluation -----------------------------------------------------------------------

def train_flag_model(frame: pd.DataFrame, flag: str, features: str, C: float = 1.0, inputs=None, encoder=None,
                     sample_weight=None, hidden_units: int = 0):
    """A `TextClassifier` of one flag from `frame` (`text`, `labels`: `[flag]` or `[]`, `lang`),
    its thresholds tuned for the flag's measure on out-of-fold scores, one per language with
    enough examples of both kinds (the sets' base rates differ by language). `inputs`:
    precomputed `model_inputs` of the texts."""
    from pipeline.models.heads import TextClassifier
    from pipeline.topics.training import model_inputs

    check_flag_labels(frame, flag)
    if inputs is None:
        inputs = model_inputs(frame["text"], features, encoder)
    model = TextClassifier(features=features, C=C, threshold_metric=THRESHOLD_METRICS[flag],
                           hidden_units=hidden_units, encoder=encoder)
    return model.fit(inputs, frame["labels"].tolist(), labels=[flag], threshold_groups=frame["lang"].tolist(),
                     sample_weight=sample_weight)


def check_flag_labels(frame: pd.DataFrame, flag: str) -> None:
    other = sorted({label for labels in frame["labels"] for label in labels} - {flag})
    if other:
        raise UserError(f"labels other than {flag!r}: {', '.join(other)} (a row's labels are {flag!r} or empty)")


def flag_report(model, frame: pd.DataFrame, inputs=None) -> dict:
    """The flag's figures on labelled `frame`: overall and per set (its `source` and `lang`,
    the `lang` alone when there is no `source`): precision, recall and F1 of the flagged class,
    F1 of the other class, and their mean, macro-F1 (the binary tasks' usual measure)."""
    from pipeline.topics.training import model_inputs

    if inputs is None:
        inputs = model_inputs(frame["text"], model.features, model.encoder)
    flag = model.classes_[0]
    truth = frame["labels"].map(lambda labels: flag in labels).to_numpy(bool)
    predicted = model.predict(inputs, frame["lang"].tolist())[:, 0].astype(bool)
    keys = [column for column in ("source", "lang") if column in frame.columns]
    names = frame[keys].astype(str).agg("/".join, axis=1).to_numpy()
    report = {"flag": flag, "threshold_metric": model.threshold_metric,
              "thresholds": {"overall": round(float(model.thresholds_[0]), 4),  # and each language's own
                             **{lang: round(float(t[0]), 4) for lang, t in model.group_thresholds_.items()}},
              "overall": binary_figures(truth, predicted), "sets": {}}
    for name in sorted(set(names)):
        rows = names == name
        report["sets"][name] = binary_figures(truth[rows], predicted[rows])
    return report


def binary_figures(truth: np.ndarray, predicted: np.ndarray) -> dict:
    from pipeline.topics.training import label_scores

    # The other posts as a second label: their F1 is the other half of macro-F1.
    both = label_scores(np.c_[truth, ~truth], np.c_[predicted, ~predicted], ["flagged", "other"])["per_label"]
    flagged, other = both["flagged"], both["other"]
    return {"rows": int(len(truth)), "flagged": int(truth.sum()),
            "precision_flagged": flagged["precision"], "recall_flagged": flagged["recall"],
            "f1_flagged": flagged["f1"], "f1_other": other["f1"],
            "macro_f1": round((flagged["f1"] + other["f1"]) / 2, 4)}


def format_flag_report(report: dict) -> str:
    """The evaluation as a plain-text table, one line per set and one for all rows."""
    thresholds = ", ".join(f"{name} {value}" for name, value in report["thresholds"].items())
    measure = {"f1": "F1 of the flag", "macro_f1": "macro-F1"}[report["threshold_metric"]]
    lines = [f"{report['flag']}: thresholds (tuned for {measure}): {thresholds}",
             "", f"{'set':<18}{'rows':>7}{'flagged':>9}{'precision':>11}{'recall':>8}{'F1 flag':>9}"
             f"{'F1 other':>10}{'macro-F1':>10}"]
    for name, s in [*report["sets"].items(), ("all", report["overall"])]:
        lines.append(f"{name:<18}{s['rows']:>7,}{s['flagged']:>9,}{s['precision_flagged']:>11.3f}"
                     f"{s['recall_flagged']:>8.3f}{s['f1_flagged']:>9.3f}{s['f1_other']:>10.3f}{s['macro_f1']:>10.3f}")
    return "\n".join(lines)


# --- low_credibility_link ---------------------------------------------------------------------------

def load_low_credibility_domains(path: Path | None = None) -> frozenset[str]:
    """Registered domains from the list (`corpora/low_credibility_domains.csv`, column
    `domain`; users edit it or pass their own)."""
    with open(path or DOMAINS_FILE, newline="", encoding="utf-8") as handle:
        return frozenset(row["domain"].strip().lower().rstrip(".") for row in csv.DictReader(handle)
                         if row["domain"].strip() and not row["domain"].startswith("#"))


def low_credibility_links(urls, domains) -> list[str]:
    """The listed domains that the (expanded) `urls` of one post point to: a host matches
    a domain when it is that domain or a subdomain of it (www., m., en. ...), never a
    look-alike that merely ends with the same letters (notbbc.com is not bbc.com)."""
    found = []
    for url in urls:
        host = _host(url)
        parts = host.split(".")
        for start in range(len(parts) - 1):
            candidate = ".".join(parts[start:])
            if candidate in domains and candidate not in found:
                found.append(candidate)
                break
    return found


def _host(url: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = "//" + url  # "www.example.com/page": urlsplit needs the "//" to see a host
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()
