"""The HTML report of a run: `diplolens report DIR` -> one self-contained `report.html`.

Per-actor cards on the four criteria, the issue mix of each actor, the risk summary, and the
ranking with the index formula, its weights and its sensitivity. Everything is inline (CSS,
charts as SVG drawn here): the page loads nothing, and its Content-Security-Policy forbids
scripts and remote content, so it opens offline and a hostile post cannot run code in it.
Every text that comes from data is escaped; bidi controls are removed from names and handles
(a right-to-left override in a handle would reorder the page around it), and post texts sit in
`dir="auto"` blocks so Arabic reads right to left without disturbing the layout.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import UserError
from pipeline.metrics import CRITERIA, ENGAGEMENT
from pipeline.outputs import PARTIAL_SUFFIX, streamed_parquet

BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
OTHER = PALETTE[-1]  # the issues beyond the palette's colours share this one
TOPICS_SHOWN = 6  # the most frequent issues charted on an actor's card
FLAGGED_EXAMPLES = 5  # posts shown per risk flag
POST_COLUMNS = ["actor", "account_handle", "created_at", "text", *ENGAGEMENT, "risk_flags", "risk_reasons"]


def esc(value) -> str:
    """Text from data, escaped for HTML (element content and attribute values)."""
    return html.escape("" if value is None else str(value), quote=True)


def name(value) -> str:
    """A name or handle: escaped, without the bidi controls that would reorder the page."""
    return esc(BIDI_CONTROLS.sub("", "" if value is None else str(value)))


def _known(value) -> bool:
    return value is not None and value is not pd.NA and not (isinstance(value, float) and math.isnan(value))


def num(value, digits: int = 2) -> str:
    if not _known(value):
        return "–"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    return f"{float(value):,.{digits}f}"


def mapping(value) -> dict:
    """A map column as read back from Parquet: a dict with nulls for absent keys (struct), or pairs."""
    items = value.items() if isinstance(value, dict) else value if isinstance(value, (list, tuple, np.ndarray)) else ()
    return {key: v for key, v in items if _known(v)}


# --- reading a run ---

def read_manifest(out_dir: Path) -> dict:
    if not out_dir.is_dir():
        raise UserError(f"{out_dir} is not a folder: give the --out folder of a `diplolens run`")
    path = out_dir / "manifest.json"
    if not path.is_file():
        raise UserError(f"{out_dir} has no manifest.json: is it the --out folder of a finished `diplolens run`?")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON: {exc}")
    if not isinstance(manifest, dict) or manifest.get("status") != "complete":
        raise UserError(f"{path} does not describe a complete run (status must be 'complete')")
    return manifest


def read_table(out_dir: Path, file: str) -> pd.DataFrame:
    path = out_dir / file
    if not path.is_file():
        raise UserError(f"{out_dir} has no {file}: run `diplolens run` again to write it")
    return pd.read_parquet(path)


def _scan_posts(path: Path) -> tuple[dict, dict]:
    """Each actor's most engaged post, and a few flagged posts per risk flag, in one streaming pass."""
    top: dict[str, tuple[int, dict]] = {}
    flagged: dict[str, list[dict]] = defaultdict(list)
    source = streamed_parquet(path)
    columns = [c for c in POST_COLUMNS if c in source.schema_arrow.names]
    for batch in source.iter_batches(columns=columns, batch_size=20_000):
        posts = batch.to_pandas()
        posts["interactions"] = posts[[c for c in ENGAGEMENT if c in posts]].fillna(0).sum(axis=1).astype("int64")
        best = posts.dropna(subset=["actor"]).sort_values("interactions", ascending=False).drop_duplicates("actor")
        for row in best.to_dict("records"):
            if row["actor"] not in top or row["interactions"] > top[row["actor"]][0]:
                top[row["actor"]] = (row["interactions"], row)
        if "risk_flags" in posts:
            for row in posts[posts["risk_flags"].map(len) > 0].to_dict("records"):
                reasons = mapping(row["risk_reasons"])
                for flag in row["risk_flags"]:
                    if len(flagged[flag]) < FLAGGED_EXAMPLES:
                        flagged[flag].append({**row, "reason": reasons.get(flag, "")})
    return {actor: row for actor, (_, row) in top.items()}, dict(flagged)


# --- drawing ---

def bar_chart(rows: list[tuple[str, float]], fmt=num, width: int = 560, label_width: int = 150) -> str:
    """Horizontal bars, one per (label, value); negative values (z-scores) extend to the left of zero."""
    known = [(label, value) for label, value in rows if _known(value)]
    if not known:
        return "<p class=muted>no values</p>"
    low, high = min(0.0, *(v for _, v in known)), max(0.0, *(v for _, v in known))
    span = (high - low) or 1.0
    plot = width - label_width - 70
    zero = label_width + plot * (-low / span)
    parts = [f'<svg class=chart width="{width}" height="{22 * len(known) + 4}" role="img">']
    for i, (label, value) in enumerate(known):
        y = 22 * i + 2
        x, w = (zero, plot * value / span) if value >= 0 else (zero + plot * value / span, plot * -value / span)
        parts.append(f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">{name(label)}</text>'
                     f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="16" fill="{PALETTE[0]}"/>'
                     f'<text x="{max(x + w, zero) + 4:.1f}" y="{y + 14}">{esc(fmt(value))}</text>')
    return "".join(parts) + "</svg>"


def topic_mix_chart(actors: pd.DataFrame, colours: dict[str, str], width: int = 760, label_width: int = 150) -> str:
    """One 100 % bar per actor: the share of each issue among the actor's issue labels."""
    plot = width - label_width - 10
    parts = [f'<svg class=chart width="{width}" height="{22 * len(actors) + 4}" role="img">']
    for i, row in enumerate(actors.itertuples()):
        counts = mapping(row.topic_counts)
        total = sum(counts.values())
        y, x = 22 * i + 2, float(label_width)
        parts.append(f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">{name(row.actor)}</text>')
        for topic, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            w = plot * count / total
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="16" fill="{colours.get(topic, OTHER)}">'
                         f'<title>{esc(topic)}: {count / total:.0%}</title></rect>')
            x += w
    legend = "".join(f'<span class=key><i style="background:{colour}"></i>{esc(topic)}</span>'
                     for topic, colour in [*colours.items(), ("other issues", OTHER)])
    return "".join(parts) + f"</svg><div class=legend>{legend}</div>"


def _topic_colours(actors: pd.DataFrame) -> dict[str, str]:
    totals = defaultdict(int)
    for counts in actors["topic_counts"]:
        for topic, n in mapping(counts).items():
            totals[topic] += n
    ranked = sorted(totals, key=lambda t: -totals[t])
    return {topic: PALETTE[i] for i, topic in enumerate(ranked[: len(PALETTE) - 1])}


# --- sections ---

def _measure_table(row: dict, measures: list[tuple[str, str, int]]) -> str:
    cells = "".join(f"<tr><th>{esc(label)}</th><td>{esc(num(row.get(column), digits))}</td></tr>"
                    for column, label, digits in measures)
    return f"<table class=measures>{cells}</table>"


def _percent(value) -> str:
    return f"{value:.0%}" if _known(value) else "–"


CARD_MEASURES = {
    "presence": [("posts", "posts", 0), ("posts_per_week_of_span", "posts per week", 1),
                 ("n_languages", "languages", 0), ("n_platforms", "platforms", 0), ("accounts", "accounts", 0)],
    "interaction": [("interactions_per_post", "interactions per post", 0), ("message_efficiency",
                    "likes + reposts per post", 0), ("reception", "reposts per original", 0),
                    ("engagement_per_1k_followers", "per post per 1k followers", 2)],
    "follow_up": [("responsiveness", "replies per original", 2), ("contribution", "original share", 2),
                  ("n_formats", "formats used", 0), ("recency_days", "days since last post", 0)],
    "specialization": [("topic_evenness", "issue evenness (0..1)", 2), ("topic_gini_simpson", "Gini–Simpson", 2),
                       ("categories_above_min_share", "issues above min. share", 0),
                       ("non_political_share", "non-political share", 2)],
}


def _actor_card(anchor: str, row: dict, accounts: pd.DataFrame, top_post: dict | None, score_range: dict) -> str:
    handles = ", ".join(f"@{name(h)}" for h in accounts.loc[accounts["actor"] == row["actor"], "account_handle"])
    languages = ", ".join(esc(code) for code in row["languages"]) if len(row["languages"]) else "–"
    criteria = []
    for criterion in CRITERIA:
        score = row.get(f"score_{criterion}")
        low, high = score_range[criterion]
        share = (score - low) / (high - low) if _known(score) and high > low else 0.0
        criteria.append(
            f'<div class=criterion><h4>{esc(criterion.replace("_", "-"))} '
            f'<span class=score>{esc(num(score))}</span></h4>'
            f'<div class=meter><span style="width:{100 * share:.0f}%"></span></div>'
            f"{_measure_table(row, CARD_MEASURES[criterion])}</div>")
    shares = sorted(mapping(row["topic_shares"]).items(), key=lambda kv: -kv[1])[:TOPICS_SHOWN]
    post = ""
    if top_post is not None:
        post = (f'<figure class=post><figcaption>most engaged post, @{name(top_post["account_handle"])}, '
                f'{esc(str(top_post["created_at"])[:10])}, {top_post["interactions"]:,} interactions</figcaption>'
                f'<blockquote dir="auto">{esc(top_post["text"])}</blockquote></figure>')
    return (f'<section class=card id="{anchor}"><h3><span class=rank>#{esc(num(row["rank"]))}</span> '
            f'{name(row["actor"])} <small>{name(row.get("country"))} · index {esc(num(row["index"]))}</small></h3>'
            f"<p class=muted>{handles} · languages: {languages} · main issue: {esc(row['main_topic'] or '–')}</p>"
            f'<div class=criteria>{"".join(criteria)}</div>'
            f"<h4>issue mix (share of posts)</h4>{bar_chart(shares, fmt=_percent, width=460, label_width=140)}"
            f"{post}</section>")


def _formula(config: dict) -> str:
    index = config["index"]
    weights = index["weights"]
    terms = " + ".join(f"{weights[c]:g} · S<sub>{esc(c)}</sub>" for c in CRITERIA)
    normalise = ("(x − min) / (max − min) across actors" if index["normalization"] == "minmax"
                 else "(x − mean) / standard deviation across actors")
    measures = "".join(f"<li>S<sub>{esc(c)}</sub> = mean of normalised "
                       f"{', '.join(f'<code>{esc(m)}</code>' for m in index['measures'][c])}</li>" for c in CRITERIA)
    return (f"<p class=formula>index = ({terms}) / (sum of the weights of the criteria the actor has a score for)"
            f"</p><ul>{measures}</ul><p>Each measure x is normalised ({esc(index['normalization'])}): {normalise}; "
            f"a measure an actor lacks is skipped, one equal for every actor is left out. Rank 1 is the highest "
            f"index. Weights come from <code>index.weights</code> of the run's configuration.</p>")


def _ranking_table(actors: pd.DataFrame) -> str:
    head = "".join(f"<th>{esc(c.replace('_', '-'))}</th>" for c in CRITERIA)
    rows = "".join(
        f"<tr><td>{esc(num(r['rank']))}</td><td><a href='#actor-{i}'>{name(r['actor'])}</a></td>"
        f"<td>{esc(num(r['index']))}</td>" + "".join(f"<td>{esc(num(r[f'score_{c}']))}</td>" for c in CRITERIA)
        + "</tr>" for i, r in enumerate(actors.to_dict("records")))
    return (f"<table class=grid><tr><th>rank</th><th>actor</th><th>index</th>{head}</tr>{rows}</table>")


def _signed(change) -> str:
    return "–" if not _known(change) else f"{int(change):+d}" if change else "0"


def _sensitivity_table(sensitivity: pd.DataFrame) -> str:
    if sensitivity.empty:
        return "<p class=muted>no actors to rank</p>"
    pivot = sensitivity.pivot_table(index=["actor", "base_rank"], columns=["criterion", "weight_change"],
                                    values="rank_change", aggfunc="first").sort_index(level="base_rank")
    changes = sorted(sensitivity["weight_change"].unique())
    head = "".join(f"<th>{esc(c.replace('_', '-'))} {change:+.0%}</th>" for c in CRITERIA for change in changes)
    rows = []
    for (actor, base), values in pivot.iterrows():
        cells = "".join(f"<td>{esc(_signed(values[(c, change)]))}</td>"
                        for c in CRITERIA for change in changes)
        rows.append(f"<tr><td>{name(actor)}</td><td>{esc(num(base))}</td>{cells}</tr>")
    return f"<table class=grid><tr><th>actor</th><th>rank</th>{head}</tr>{''.join(rows)}</table>"


def _risk_section(accounts: pd.DataFrame, flagged: dict, edges: int | None) -> str:
    flags = sorted({flag for counts in accounts["risk_flag_counts"] for flag in mapping(counts)})
    head = "".join(f"<th>{esc(flag)} posts</th>" for flag in flags)
    extra = [c for c in ("burst_periods", "coordinated_posts", "bot_like_score") if c in accounts]
    rows = "".join(
        f"<tr><td>@{name(r['account_handle'])}</td><td>{name(r['actor'])}</td><td>{esc(num(r['posts']))}</td>"
        + "".join(f"<td>{esc(num(mapping(r['risk_flag_counts']).get(flag, 0), 0))}</td>" for flag in flags)
        + "".join(f"<td>{esc(num(r[c]))}</td>" for c in extra) + "</tr>"
        for r in accounts.to_dict("records"))
    table = (f"<table class=grid><tr><th>account</th><th>actor</th><th>posts</th>{head}"
             + "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in extra) + f"</tr>{rows}</table>")
    examples = "".join(
        f"<h4>{esc(flag)}</h4>" + "".join(
            f'<figure class=post><figcaption>@{name(p["account_handle"])}, {esc(str(p["created_at"])[:16])}: '
            f'{esc(p["reason"])}</figcaption><blockquote dir="auto">{esc(p["text"])}</blockquote></figure>'
            for p in posts)
        for flag, posts in sorted(flagged.items()))
    edge_line = "" if edges is None else f"<p>{edges:,} coordination edges (pairs of accounts) in coordination_edges.parquet.</p>"
    return table + edge_line + (examples or "<p class=muted>no post carries a risk flag</p>")


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #4e79a7;padding-bottom:.2em;margin-top:2em}
.muted{color:#666}.grid{border-collapse:collapse;margin:.5em 0}.grid td,.grid th{border:1px solid #ddd;
padding:2px 8px;text-align:right}.grid td:nth-child(2),.grid th:nth-child(2){text-align:left}
.card{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}.card h3{margin:.2em 0}
.rank{color:#4e79a7}.criteria{display:grid;grid-template-columns:repeat(4,1fr);gap:.8em}
.criterion h4{margin:.4em 0 .2em}.score{float:right;color:#4e79a7}.meter{height:6px;background:#eee}
.meter span{display:block;height:6px;background:#4e79a7}.measures th{text-align:left;font-weight:normal;
color:#555;padding-right:.5em}.measures td{text-align:right}.chart text{font-size:12px}
.post{margin:.5em 0}.post figcaption{color:#666;font-size:12px}
.post blockquote{margin:.2em 0;padding:.3em .8em;border-inline-start:3px solid #ccc;white-space:pre-wrap;
unicode-bidi:isolate}.formula{font-family:monospace;background:#f6f6f6;padding:.5em}
.legend .key{margin-right:1em;white-space:nowrap}.legend i{display:inline-block;width:10px;height:10px;
margin-right:4px}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def build_report(out_dir: str | Path) -> str:
    """The report of the run in `out_dir`, as one HTML document."""
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    actors = read_table(out_dir, "actors.parquet").sort_values(["rank", "actor"], na_position="last")
    accounts = read_table(out_dir, "accounts.parquet")
    sensitivity = read_table(out_dir, "index_sensitivity.parquet")
    top_posts, flagged = _scan_posts(out_dir / "posts.parquet")
    config = manifest["config"]
    counts = manifest.get("counts", {})
    score_range = {c: (actors[f"score_{c}"].min(), actors[f"score_{c}"].max()) for c in CRITERIA}
    topic_model = (manifest.get("models") or {}).get("topics") or {}
    cards = "".join(_actor_card(f"actor-{i}", row, accounts, top_posts.get(row["actor"]), score_range)
                    for i, row in enumerate(actors.to_dict("records")))
    inputs = ", ".join(name(Path(entry["path"]).name) for entry in manifest.get("inputs", []))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DiploLens report</title><style>{STYLE}</style></head><body>
<h1>DiploLens report</h1>
<p class=muted>Run finished {esc(manifest.get("finished_at", "")[:19])} UTC · inputs: {inputs or "–"} ·
{esc(num(counts.get("posts_written")))} posts ({esc(num(counts.get("quarantined")))} quarantined,
{esc(num(counts.get("duplicates")))} duplicates) · {esc(num(len(accounts)))} accounts ·
{esc(num(len(actors)))} actors · profile {esc(manifest.get("profile", "–"))} · topic model
{esc(topic_model.get("name", "–"))}. Column definitions: data_dictionary.md in the run folder.</p>
<h2>Ranking</h2>
{_formula(config)}
{_ranking_table(actors)}
{bar_chart(list(zip(actors["actor"], actors["index"])))}
<h2>Rank sensitivity</h2>
<p>Change of each actor's rank when one criterion's weight moves by −20 % or +20 % (negative: the actor
moves up). No ranking publishes its weights: a rank that moves here is a judgement call, not a finding.</p>
{_sensitivity_table(sensitivity)}
<h2>Issue mix</h2>
<p>Share of each issue among an actor's issue labels (a post may carry several).</p>
{topic_mix_chart(actors, _topic_colours(actors))}
<h2>Actors</h2>
{cards}
<h2>Risk summary</h2>
{_risk_section(accounts, flagged, manifest.get("outputs", {}).get("coordination_edges.parquet"))}
</body></html>
"""


def write_report(out_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write the report (default `out_dir/report.html`); returns its path."""
    document = build_report(out_dir)
    path = Path(path) if path is not None else Path(out_dir) / "report.html"
    if not path.parent.is_dir():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist")
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    partial.write_text(document, encoding="utf-8")
    os.replace(partial, path)
    return path
