"""The topic corpus over a few real rows of SIB-200 and ASND, a tiny mapping and a gold sample."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.errors import UserError
from pipeline.topics.corpus import (
    DEFAULT_MAPPINGS, build_topic_corpus, corpus_summary, load_taxonomy, read_mapping, save_corpus,
)

GUIDELINE_ORDER = [
    "political", "security", "economic", "social", "culture", "arts", "religion", "tourism", "cuisine",
    "fashion", "sports", "health", "education", "history", "environment", "human_rights", "humanitarian",
    "consular", "science_technology",
]

# Real rows of sib-200/sib200_topic_target_langs.csv: four index_ids in three languages.
SIB_COLUMNS = ["flores_code", "iso639_1", "split", "index_id", "category", "category_eng14", "text"]
SIB_ROWS = [
    ["arb_Arab", "ar", "train", "431", "geography", "geography", "تركيا محاطة بالبحار من ثلاث جهات: بحر إيجه من الغرب ، والبحر الأسود من الشمال والبحر الأبيض المتوسط من الجنوب."],
    ["arb_Arab", "ar", "train", "1205", "health", "health", "صرحت دانييلا لانتين، إحدى خبراء المرض التابعين للأمم المتحدة أنه من المرجح أن يكون سبب تفشي المرض هو قوات حفظ السلام."],
    ["arb_Arab", "ar", "dev", "548", "sports", "sports", "مع التغيير في مسافة السباق من ربع ميل إلى نصف ميل تُصبح السرعة أقل أهمية بكثير وتصبح القدرة على التحمل ضرورة مطلقة."],
    ["fra_Latn", "fr", "train", "431", "geography", "geography", "La Turquie est entourée par des mers sur trois côtés : la mer Égée à l'ouest, la mer Noire au nord et la mer Méditerranée au sud."],
    ["fra_Latn", "fr", "train", "1936", "politics", "politics", "En 1994, ce conflit a débouché sur la création de la république autoproclamée de Transnistrie en Moldavie orientale, dotée de son propre gouvernement et de sa propre monnaie, mais reconnue par aucun pays membre des Nations Unies."],
    ["fra_Latn", "fr", "dev", "548", "sports", "sports", "Avec le passage du 400 mètres au 800 mètres, la vitesse devient beaucoup moins importante et l’endurance devient une nécessité absolue."],
    ["eng_Latn", "en", "train", "1936", "politics", "politics", "In 1994, this conflict led to the creation of the self-proclaimed Transnistria Republic in eastern Moldova, which has its own government and currency but is not recognised by any UN member country."],
    ["eng_Latn", "en", "train", "1205", "health", "health", "Danielle Lantagne, a UN expert on the disease, stated the outbreak was likely caused by the peacekeepers."],
    ["eng_Latn", "en", "dev", "548", "sports", "sports", "With the change from the quarter to the half mile run, speed becomes of much less importance and endurance becomes an absolute necessity."],
]

# Real rows of asnd-arabic-social-media-news/asnd.csv. The first two share one text: in dev as
# crime-war-conflict, in train as politics (the set's own cross-split duplicate).
ASND_COLUMNS = ["split", "id", "platform", "class", "text_also_in_train", "text"]
BREAKING = ("RT @AJABreaking: عاجل | وزير الدفاع التركي يبحث بالدوحة مع رئيس الحكومة الليبية مذكرة التفاهم "
            "حول الحدود البحرية والتعاون العسكري")
ASND_ROWS = [
    ["dev", "1213452531755552770", "twitter", "crime-war-conflict", "1", BREAKING],
    ["train", "1205809208924549120", "twitter", "politics", "0", BREAKING],
    ["train", "YGrTKvOAxQo", "youtube", "others", "0", "@6iiyo صديقتنا ماذا تقصدين بـ\"الضرب بجميع الأنواع\"؟ 😰 هل تقصدين الضرب المؤلم؟"],
    ["train", "1144319487136718853", "twitter", "others", "0", "#شاهد | طائرة صغيرة تهبط اضطراريا بدون إحدى العجلات في مطار #فلوريدا وتنجو بأعجوبة\nالمصدر: رويترز \n#الجزيرة"],
    ["train", "812386155471598_2407131185997079", "facebook", "sports", "0", "#الكلاسيكو ليس بين #ريال_مدريد و #برشلونة فقط.. إليك أبرز المواجهات بين الأندية حول العالم\n#الجزيرة➡️رياضة"],
    ["train", "1128270843056984069", "twitter", "art-and-entertainment", "0", "#كاريكاتير | #ترمب والأميركيون\nالمزيد من الرسوم على الرابط التالي: http://aja.me/x4kg\n#الجزيرة"],
    ["dev", "1160611840511991808", "twitter", "health", "0", "الاستحمام.. ليس ممتعاً دائماً\nقد تكون مجبراً عليه!\nتعرفوا على قصة عبد الله "],
]

SIB_MAPPING = {
    "source": "sib-200", "files": ["sib200_topic_target_langs.csv"], "licence": "CC BY-SA 4.0",
    "text_column": "text", "label_column": "category", "lang_column": "iso639_1", "languages": ["ar", "fr", "en"],
    "split_column": "split", "split_values": {"train": "train", "dev": "dev", "test": "holdout"},
    "group_column": "index_id",
    "labels": {"politics": ["political"], "health": ["health"], "sports": ["sports"], "geography": "drop"},
}
ASND_MAPPING = {
    "source": "asnd", "files": ["asnd.csv"], "text_column": "text", "label_column": "class", "lang": "ar",
    "languages": ["ar"], "split_column": "split", "split_values": {"train": "train", "dev": "dev", "test": "holdout"},
    "strip_patterns": ["#الجزيرة\\s*(?:[▶►➡→]\\ufe0f?\\s*)+\\S+"],
    "labels": {
        "politics": ["political"], "crime-war-conflict": ["security"], "sports": ["sports"], "health": ["health"],
        "others": {"labels": [], "if_text_matches": "^\\s*@"}, "art-and-entertainment": "drop",
    },
}

# Real rows of corpora/annotations/world_leaders (items.csv and labels/chunk_01.csv).
GOLD_ITEMS = [
    ["1", "990766080200200192", "CanadianPM", "en", "train", "Prime Minister Trudeau and Governor General Payette join other leaders and community members in Toronto to honour and support the victims of last Monday's van attack. #TorontoStrongpic.twitter.com/tjKGHxRNPU"],
    ["2", "672875640761249792", "CanadianPM", "en", "train", "Making strategic investments in clean technology will encourage economic growth #ThroneSpeech"],
    ["3", "567897422480814080", "PMOIndia", "en", "train", "We want to develop an industry that is dynamic. It should constantly stay at the cutting edge of the global industry: PM @narendramodi"],
    ["14", "1089504091934519297", "jairbolsonaro", "pt", "dev", "O Ministro do Desenvolvimento Regional, Canuto, reunir-se-á na sede da Agência Nacional de Águas para tratar dos seguintes assuntos: qualidade da água do Rio Paraopeba, previsões para o avanço dos rejeitos, estabilidade da Barragem VI e relatório de Segurança de Barragens 2017."],
    ["15", "1049042724739997697", "ScottMorrisonMP", "en", "dev", "Under Labor, you’ll pay too much tax.pic.twitter.com/MM9vACle5V"],
]
GOLD_LABELS = [["1", "security"], ["2", "economic|environment|science_technology"], ["14", "environment"],
               ["15", "political|economic"]]  # item 3: annotation in progress


def _write_csv(path: Path, columns: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)


@pytest.fixture
def fixture_dirs(tmp_path):
    data = tmp_path / "data"
    _write_csv(data / "sib-200" / "sib200_topic_target_langs.csv", SIB_COLUMNS, SIB_ROWS)
    _write_csv(data / "asnd" / "asnd.csv", ASND_COLUMNS, ASND_ROWS)
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for name, mapping in (("sib", SIB_MAPPING), ("asnd", ASND_MAPPING)):
        (mappings / f"{name}.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    gold = tmp_path / "gold"
    _write_csv(gold / "items.csv", ["item", "post_id", "account_handle", "lang", "split", "text"], GOLD_ITEMS)
    _write_csv(gold / "labels" / "chunk_01.csv", ["item", "labels"], GOLD_LABELS)
    return data, mappings, gold


def _build(fixture_dirs, **kwargs) -> pd.DataFrame:
    data, mappings, gold = fixture_dirs
    return build_topic_corpus(data, gold, GUIDELINE_ORDER, mappings_dir=mappings, **kwargs)


def test_shipped_taxonomy_has_the_guideline_labels_in_order():
    assert load_taxonomy() == GUIDELINE_ORDER


@pytest.mark.parametrize("path", sorted(DEFAULT_MAPPINGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_mappings_are_valid_against_the_taxonomy(path):
    mapping = read_mapping(path, load_taxonomy())
    assert mapping["labels"] and mapping["notes"]


def test_mapping_is_applied(fixture_dirs):
    corpus = _build(fixture_dirs)
    sib = corpus[corpus["source"] == "sib"]
    by_text = dict(zip(sib["text"], sib["labels"]))
    assert by_text[SIB_ROWS[1][6]] == ["health"]
    assert by_text[SIB_ROWS[4][6]] == ["political"]
    assert not any("Turquie" in text for text in sib["text"])  # geography: drop
    assert set(sib["lang"]) == {"ar", "fr", "en"}
    asnd = corpus[corpus["source"] == "asnd"].set_index("text")
    assert asnd.loc[ASND_ROWS[2][5], "labels"] == []  # a reply: no issue
    assert not any("فلوريدا" in text or "كاريكاتير" in text for text in asnd.index)  # dropped rows
    sports = [text for text in asnd.index if "الكلاسيكو" in text]
    assert asnd.loc[sports[0], "labels"] == ["sports"] and "رياضة" not in sports[0]  # leak stripped


def test_each_row_knows_the_labels_its_source_annotates(fixture_dirs):
    corpus = _build(fixture_dirs)
    known = corpus.groupby("source")["known_labels"].agg(lambda rows: {tuple(r) for r in rows})
    # What each mapping can give, in taxonomy order; the gold posts speak for every label.
    assert known["sib"] == {("political", "sports", "health")}
    assert known["asnd"] == {("political", "security", "sports", "health")}
    assert known["world_leaders_gold"] == {tuple(GUIDELINE_ORDER)}


def test_translations_never_straddle_the_splits(fixture_dirs):
    corpus = _build(fixture_dirs)
    assert corpus.groupby("group")["split"].nunique().max() == 1
    sib = corpus[corpus["source"] == "sib"]
    assert set(sib.loc[sib["split"] == "dev", "group"]) == {"sib:548"}
    assert (sib.groupby("group").size() > 1).all()  # each group holds several languages


def test_a_dev_text_is_never_also_in_train(fixture_dirs):
    corpus = _build(fixture_dirs)
    rows = corpus[corpus["text"] == BREAKING]
    assert len(rows) == 1 and rows["split"].item() == "dev"
    assert rows["labels"].item() == ["political", "security"]  # both copies' labels
    assert not set(corpus.loc[corpus["split"] == "train", "text"]) & set(corpus.loc[corpus["split"] == "dev", "text"])


def test_held_out_texts_leave_every_split(fixture_dirs):
    data, _, _ = fixture_dirs
    # A test row removes its text from train even when its own label is dropped.
    rows = SIB_ROWS + [["eng_Latn", "en", "test", "9999", "geography", "geography", SIB_ROWS[7][6]]]
    _write_csv(data / "sib-200" / "sib200_topic_target_langs.csv", SIB_COLUMNS, rows)
    corpus = _build(fixture_dirs)
    assert SIB_ROWS[7][6] not in set(corpus["text"])
    assert SIB_ROWS[1][6] in set(corpus["text"])  # its translations stay


def test_gold_annotations_are_read_with_their_split(fixture_dirs):
    gold = _build(fixture_dirs).query("source == 'world_leaders_gold'").set_index("group")
    assert len(gold) == 4  # item 3 is not labelled yet
    assert gold.loc["world_leaders_gold:1089504091934519297", "split"] == "dev"
    assert gold.loc["world_leaders_gold:1089504091934519297", "lang"] == "pt"
    assert gold.loc["world_leaders_gold:672875640761249792", "labels"] == ["economic", "environment", "science_technology"]
    assert gold.loc["world_leaders_gold:990766080200200192", "split"] == "train"


def test_gold_can_be_left_out(fixture_dirs):
    assert "world_leaders_gold" not in set(_build(fixture_dirs, include_gold=False)["source"])


def test_gold_label_outside_the_taxonomy_is_a_user_error(fixture_dirs):
    _, _, gold = fixture_dirs
    _write_csv(gold / "labels" / "chunk_02.csv", ["item", "labels"], [["3", "economy"]])
    with pytest.raises(UserError, match="economy"):
        _build(fixture_dirs)


def test_source_label_without_a_rule_is_a_user_error(fixture_dirs):
    _, mappings, _ = fixture_dirs
    mapping = {**ASND_MAPPING, "labels": {k: v for k, v in ASND_MAPPING["labels"].items() if k != "health"}}
    (mappings / "asnd.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    with pytest.raises(UserError, match="'health' have no rule"):
        _build(fixture_dirs)


@pytest.mark.parametrize("text, message", [
    ("name: t\nversion: 1\nlabels:\n  - name: political\n    examples: [a post]\n", "needs a definition"),
    ("name: t\nversion: 1\nlabels:\n  - {name: sports, definition: d, examples: [a]}\n"
     "  - {name: sports, definition: d, examples: [b]}\n", "defined twice"),
    ("name: t\nversion: 1\nlabels:\n  - {name: Sports, definition: d, examples: [a]}\n", "lower-case"),
    ("name: t\nversion: 1\nlabels:\n  - {name: sports, definition: d, examples: []}\n", "examples"),
    ("name: t\nlabels: [{name: sports, definition: d, examples: [a]}]\n", "version"),
    ("labels: [unclosed\n", "not valid YAML"),
])
def test_bad_taxonomy_file_is_a_user_error(tmp_path, text, message):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(UserError, match=message) as caught:
        load_taxonomy(path)
    assert "\n" not in str(caught.value)


def test_summary_counts_rows_and_labels(fixture_dirs):
    corpus = _build(fixture_dirs)
    summary = corpus_summary(corpus, GUIDELINE_ORDER)
    assert summary["rows"].sum() == len(corpus)
    sib_dev = summary.query("source == 'sib' and split == 'dev'")
    assert sib_dev["rows"].sum() == 3 and sib_dev["sports"].sum() == 3
    assert summary["none"].sum() == sum(len(labels) == 0 for labels in corpus["labels"])


def test_saved_corpus_loads_with_datasets(fixture_dirs, tmp_path):
    datasets = pytest.importorskip("datasets")
    corpus = _build(fixture_dirs)
    save_corpus(corpus, tmp_path / "corpus")
    loaded = datasets.load_from_disk(str(tmp_path / "corpus"))
    assert set(loaded) == {"train", "dev"}
    assert loaded["train"].num_rows + loaded["dev"].num_rows == len(corpus)
    dev = loaded["dev"].to_pandas()
    assert list(dev.loc[dev["text"] == BREAKING, "labels"].item()) == ["political", "security"]
    assert list(dev.loc[dev["text"] == BREAKING, "known_labels"].item()) == ["political", "security", "sports",
                                                                              "health"]
