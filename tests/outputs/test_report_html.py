"""`diplolens report`: one self-contained page, every text from data escaped, checked in a real browser."""

import shutil
import subprocess

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.report import build_report, write_report
from pipeline.runner import SAMPLE_ACCOUNTS, SAMPLE_POSTS, run

SCRIPT = "<script>document.title='pwned'</script>"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: would mirror everything after it on the line
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """Real posts of three leaders (French, English/French, Arabic), with a script injected into
    Macron's most-liked post and a right-to-left override in Trudeau's handle."""
    folder = tmp_path_factory.mktemp("hostile")
    posts = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False)
    posts = posts[posts["username"].isin(["EmmanuelMacron", "JustinTrudeau", "KingSalman"])].copy()
    top = posts.loc[posts["username"] == "EmmanuelMacron", "favorites"].astype(int).idxmax()
    posts.loc[top, "text"] = f"Merci ! {SCRIPT} <img src=x onerror=\"document.title='img'\">"
    posts.loc[posts["username"] == "JustinTrudeau", "username"] = f"{RLO}JustinTrudeau"
    posts.to_csv(folder / "posts.csv", index=False)
    accounts = pd.read_csv(SAMPLE_ACCOUNTS, dtype=str)
    accounts.loc[accounts["handle"] == "JustinTrudeau", "handle"] = f"{RLO}JustinTrudeau"
    accounts.to_csv(folder / "accounts.csv", index=False)
    out = folder / "out"
    run([str(folder / "posts.csv")], out, load_config(overrides={"profile": "fast"}), folder / "accounts.csv",
        progress=False)
    return out, write_report(out)


def test_post_text_is_escaped_and_shown_as_text(hostile_run):
    _, report = hostile_run
    page = report.read_text("utf-8")
    assert "<script" not in page and "<img" not in page
    assert "Merci ! &lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page


def test_bidi_overrides_are_removed_from_handles_and_posts_read_in_their_direction(hostile_run):
    _, report = hostile_run
    page = report.read_text("utf-8")
    assert RLO not in page
    assert "@JustinTrudeau" in page
    assert '<blockquote dir="auto">' in page
    salman = pd.read_parquet(hostile_run[0] / "posts.parquet").query("account_handle == 'KingSalman'")
    assert any(text.replace("'", "&#x27;") in page for text in salman["text"])  # Arabic, unchanged


def test_report_of_the_sample_shows_every_actor_the_formula_and_the_weights(sample_output):
    page = build_report(sample_output)
    actors = pd.read_parquet(sample_output / "actors.parquet")
    for actor in actors["actor"]:
        assert f">{actor}</a>" in page  # in the ranking table
    assert ("index = (0.25 · S<sub>presence</sub> + 0.25 · S<sub>interaction</sub> + 0.25 · S<sub>follow_up</sub> "
            "+ 0.25 · S<sub>specialization</sub>)") in page
    first = actors.sort_values("rank").iloc[0]
    assert page.index(f">{first['actor']}</a>") < page.index(f">{actors.sort_values('rank').iloc[-1]['actor']}</a>")
    assert "http://" not in page and "https://" not in page.split("<body>")[0]  # nothing loaded from outside


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing", "is not a folder"),
    (lambda tmp: tmp, "has no manifest.json"),
])
def test_a_folder_that_is_not_a_finished_run_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    assert main(["report", str(make(tmp_path))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("diplolens: error: ") and message in err[0]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium_without_running_injected_script(hostile_run, tmp_path):
    out, report = hostile_run
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr",
               "--v=0", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2400"]
    url = report.as_uri()
    shot = tmp_path / "report.png"
    screenshot = subprocess.run([*browser, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    dom = subprocess.run([*browser, "--dump-dom", url], capture_output=True, text=True, timeout=120)

    console = [line for run_ in (screenshot, dom) for line in run_.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # no console message at all: no error, no blocked script
    assert dom.returncode == 0 and "<title>DiploLens report</title>" in dom.stdout  # the script did not run
    assert "<script" not in dom.stdout and "&lt;script&gt;document.title=" in dom.stdout
    for actor in pd.read_parquet(out / "actors.parquet")["actor"]:
        assert actor in dom.stdout
    Image = pytest.importorskip("PIL.Image")
    with Image.open(shot) as image:
        assert image.size == (1200, 2400)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 24)) > 20  # text and charts, not a blank page
