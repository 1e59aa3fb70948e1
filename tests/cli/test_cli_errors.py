"""The command line: one clear line and exit code 2 for every user mistake, never a traceback."""

import json
import subprocess
import sys

import pytest

from pipeline.cli import main


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_missing_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out")]) == 2
    assert _error_line(capsys) == f"diplolens: error: input not found: {tmp_path / 'nope.csv'}"


def test_unknown_format_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["run", "--format", "myspace", "--out", str(tmp_path)]) == 2
    assert "unknown format 'myspace'" in _error_line(capsys)


@pytest.mark.parametrize(
    "content, message",
    [
        ("batch_sise: 10\n", "unknown key 'batch_sise'"),
        ("batch_size: many\n", "'batch_size' must be int"),
        ("langid: {min_letters: [1]}\n", "'langid.min_letters' must be int"),
        ("stages: [normalize, translate]\n", "unknown stage 'translate'"),
        ("batch_size: [\n", "not valid YAML"),
        ("- just\n- a list\n", "must hold a mapping"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    config = tmp_path / "config.yaml"
    config.write_text(content, encoding="utf-8")
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    assert message in _error_line(capsys)


def test_missing_config_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["run", "--config", str(tmp_path / "none.yaml"), "--out", str(tmp_path)]) == 2
    assert "config file not found" in _error_line(capsys)


def test_file_without_text_column_names_the_fix(tmp_path, capsys):
    data = tmp_path / "posts.csv"
    data.write_text("id,body,date\n1,Bonjour à tous,2019-01-01\n", encoding="utf-8")
    assert main(["run", str(data), "--out", str(tmp_path / "out")]) == 2
    line = _error_line(capsys)
    assert "no text column" in line and "--map text=COLUMN" in line


def test_map_option_names_the_text_column(tmp_path, capsys):
    data = tmp_path / "posts.csv"
    data.write_text("id,body,date\n1,Bonjour à tous les amis du Sahel,2019-01-01\n", encoding="utf-8")
    assert main(["run", str(data), "--map", "text=body", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert "1 posts written" in capsys.readouterr().out


@pytest.mark.parametrize("mapping, message", [("textbody", "expected canonical=source"),
                                              ("txt=body", "unknown canonical column 'txt'"),
                                              ("text=missing", "has no column 'missing'")])
def test_bad_map_is_one_line_and_exit_2(tmp_path, capsys, mapping, message):
    data = tmp_path / "posts.csv"
    data.write_text("id,body\n1,hello there\n", encoding="utf-8")
    assert main(["run", str(data), "--map", mapping, "--out", str(tmp_path / "out")]) == 2
    assert message in _error_line(capsys)


def test_missing_accounts_registry_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["run", "--accounts", str(tmp_path / "accounts.csv"), "--out", str(tmp_path)]) == 2
    assert "accounts registry not found" in _error_line(capsys)


def test_internal_error_keeps_the_traceback_in_a_log(tmp_path, capsys, monkeypatch):
    import pipeline.runner

    def explode(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(pipeline.runner, "run", explode)
    assert main(["run", "--out", str(tmp_path)]) == 1
    line = _error_line(capsys)
    assert "internal error: ZeroDivisionError: boom" in line
    assert "ZeroDivisionError" in (tmp_path / "diplolens-error.log").read_text("utf-8")


def test_formats_lists_every_reader(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    for name in ("csv", "jsonl", "parquet", "twarc2-jsonl", "twarc-csv", "crowdtangle"):
        assert f"\n{name} " in f"\n{out}"


def test_console_script_exits_2_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pipeline", "run", "missing.csv", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "diplolens: error: input not found: missing.csv"


def test_models_list_names_every_shipped_model(capsys):
    assert main(["models", "list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}
    assert {"topics-e5", "topics-fast", "bot-like"} <= listed


def test_accurate_profile_without_the_encoder_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DIPLOLENS_HOME", str(tmp_path / "empty-home"))
    assert main(["run", "--profile", "accurate", "--out", str(tmp_path / "out")]) == 2
    assert "diplolens models setup" in _error_line(capsys)


def test_missing_model_is_one_line_and_exit_2_before_any_work(tmp_path, capsys):
    assert main(["run", "--model", "topics=no-such-model", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "model 'no-such-model' not found" in _error_line(capsys)
    assert not (tmp_path / "out" / "posts.parquet").exists()


def test_output_folder_that_cannot_be_made_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert main(["run", "--out", str(tmp_path / "a-file" / "out")]) == 2
    assert "cannot create output folder" in _error_line(capsys)


def test_zip_that_is_not_an_x_archive_is_one_line_and_exit_2(tmp_path, capsys):
    import zipfile

    with zipfile.ZipFile(tmp_path / "posts.zip", "w") as packed:
        packed.writestr("posts.csv", "id,text\n1,Bonjour\n")
    assert main(["run", str(tmp_path / "posts.zip"), "--out", str(tmp_path / "out")]) == 2
    assert "extract it and give its files" in _error_line(capsys)


def test_stage_failure_keeps_the_traceback_in_the_output_folder(tmp_path, capsys, monkeypatch):
    from pipeline.registry import Stage, stages

    def explode(posts, context):
        raise RuntimeError("stage broke")

    normalize = stages()["normalize"]
    monkeypatch.setitem(stages(), "normalize", Stage("normalize", explode, normalize.adds, normalize.version))
    data = tmp_path / "posts.csv"
    data.write_text("id,text\n1,Bonjour à tous\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(data), "--out", str(out), "--quiet", "--profile", "fast"]) == 1
    line = _error_line(capsys)
    assert line == f"diplolens: internal error: RuntimeError: stage broke (traceback in {out / 'diplolens-error.log'})"
    log = (out / "diplolens-error.log").read_text("utf-8")
    assert "Traceback" in log and "in explode" in log
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["status"] == "failed" and manifest["error"] == "RuntimeError: stage broke"
