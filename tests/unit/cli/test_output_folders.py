"""`golive package-lambda --out` and `golive endpoint-image --out` replace a folder only when it is new, empty or
their own previous output (golive/output_folders.py): a folder of someone's files, the --model bundle, a folder
holding it, the project, a file or a path under one are refused with one `error:` line before any work starts,
and a failed build leaves neither a `.partial` folder nor a half output behind."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cli.main import main
from golive.errors import UserError
from golive.output_folders import MARKER
from infra.assets import endpoint_image, lambda_package
from infra.assets.lambda_package import build_lambda_package
from tests.conftest import REPO


@pytest.fixture()
def no_build(monkeypatch):
    """The Lambda package's build (pip, bytecode, zip) fails the test if it starts: refusals come first."""

    def started(*args, **kwargs):
        raise AssertionError("the package build started")

    monkeypatch.setattr(lambda_package, "_build", started)


def contents(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def refused(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err, err
    return err


def test_a_folder_of_someone_elses_files_is_refused_and_kept(handmade_bundle, tmp_path, capsys, no_build):
    userdir = tmp_path / "userdir"
    userdir.mkdir()
    (userdir / "thesis.txt").write_text("precious")
    err = refused(capsys, "package-lambda", "--model", str(handmade_bundle), "--out", str(userdir))
    assert "userdir is not a Lambda package golive wrote (it holds thesis.txt); choose a new or empty folder" in err
    err = refused(capsys, "endpoint-image", "--out", str(userdir))
    assert "is not an endpoint image build context golive wrote" in err
    assert contents(userdir) == {"thesis.txt": hashlib.sha256(b"precious").hexdigest()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["userdir"]  # no .partial, no size report


def test_a_clone_of_golive_is_not_taken_for_a_previous_package(handmade_bundle, tmp_path, capsys, no_build):
    """A clone or fork holds functions/lambda_handler.py too, but no size report beside it: it is kept."""
    clone = tmp_path / "my-fork"
    (clone / "functions").mkdir(parents=True)
    (clone / "functions" / "lambda_handler.py").write_text("# the fork's handler")
    (clone / "pyproject.toml").write_text("[project]")
    err = refused(capsys, "package-lambda", "--model", str(handmade_bundle), "--out", str(clone))
    assert "my-fork is not a Lambda package golive wrote" in err
    assert sorted(contents(clone)) == ["functions/lambda_handler.py", "pyproject.toml"]


@pytest.mark.parametrize("where", ["the bundle", "inside it", "its parent"])
def test_the_model_bundle_and_folders_around_it_are_refused(handmade_bundle, tmp_path, capsys, no_build, where):
    model = tmp_path / "hb"
    model.mkdir()
    for file in handmade_bundle.iterdir():
        (model / file.name).write_bytes(file.read_bytes())
    before = contents(model)
    out = {"the bundle": model, "inside it": model / "package", "its parent": tmp_path}[where]
    err = refused(capsys, "package-lambda", "--model", str(model), "--out", str(out))
    assert "the --model bundle" in err and "choose a new or empty folder" in err
    assert contents(model) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hb"]


def test_the_project_home_and_current_folders_are_refused(handmade_bundle, tmp_path, capsys, monkeypatch, no_build):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    for out, said in [(".", "is the current folder"), (str(REPO), "is the project folder")]:
        err = refused(capsys, "package-lambda", "--model", str(handmade_bundle), "--out", out)
        assert said in err and "would delete everything in it" in err
        assert said in refused(capsys, "endpoint-image", "--out", out)
    # the project's parent holds the project, and where the clone is under /tmp, the current folder (tmp_path) too
    err = refused(capsys, "endpoint-image", "--out", str(REPO.parent))
    assert "is a folder holding the project folder" in err or "is a folder holding the current folder" in err
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    assert "is your home folder" in refused(capsys, "endpoint-image", "--out", str(tmp_path / "home"))
    assert (tmp_path / "notes.txt").read_text() == "mine" and (REPO / "pyproject.toml").is_file()


def test_a_file_or_a_path_under_one_is_refused_before_any_work(handmade_bundle, tmp_path, capsys, no_build):
    afile = tmp_path / "afile"
    afile.write_text("data")
    for command in (["package-lambda", "--model", str(handmade_bundle)], ["endpoint-image"]):
        assert "afile is a file; " in refused(capsys, *command, "--out", str(afile))
        assert f"afile/sub cannot be made: {afile} is a file" in refused(capsys, *command, "--out", str(afile / "sub"))
    assert afile.read_text() == "data" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_someone_elses_partial_folder_and_size_report_are_refused(handmade_bundle, tmp_path, capsys, no_build):
    """The staging folder beside --out and the size report written there are someone's files too."""
    partial = tmp_path / "pkg.partial"
    partial.mkdir()
    (partial / "draft.txt").write_text("mine")
    err = refused(capsys, "package-lambda", "--model", str(handmade_bundle), "--out", str(tmp_path / "pkg"))
    assert "pkg.partial is where the Lambda package is staged, and it is not golive's; move it away" in err
    assert (partial / "draft.txt").read_text() == "mine"

    report = tmp_path / "other.size.json"
    report.write_text('{"mine": true}')
    with pytest.raises(UserError, match="other.size.json .* exists and is not one"):
        build_lambda_package(handmade_bundle, tmp_path / "other", install=False)
    assert report.read_text() == '{"mine": true}' and not (tmp_path / "other").exists()
    assert not (tmp_path / "other.partial").exists()


def test_a_previous_package_is_replaced_marked_or_written_before_markers(handmade_bundle, tmp_path):
    pkg = tmp_path / "lambda"
    build_lambda_package(handmade_bundle, pkg, variant="int8", install=False)
    assert (pkg / MARKER).read_text() == "Lambda package\n"
    (pkg / "leftover.txt").write_text("from the previous build")
    build_lambda_package(handmade_bundle, pkg, variant=None, install=False)
    assert not (pkg / "leftover.txt").exists() and not (pkg / "model_artifacts" / "model.int8.onnx").exists()
    assert json.loads((tmp_path / "lambda.size.json").read_text())["variant"] is None

    (pkg / MARKER).unlink()  # a package an older golive wrote: known by its handler module and its size report
    build_lambda_package(handmade_bundle, pkg, variant="int8", install=False)
    assert (pkg / MARKER).is_file() and (pkg / "model_artifacts" / "model.int8.onnx").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lambda", "lambda.size.json"]


def test_a_previous_image_context_is_replaced_and_an_empty_folder_used(tmp_path, capsys):
    context = tmp_path / "image"
    context.mkdir()  # empty: used
    assert main(["endpoint-image", "--out", str(context)]) == 0
    assert (context / "Dockerfile").is_file() and (context / MARKER).is_file()
    (context / MARKER).unlink()  # a context an older golive wrote: only what a context holds
    (context / "functions" / "stale.py").write_text("")
    assert main(["endpoint-image", "--out", str(context)]) == 0
    assert not (context / "functions" / "stale.py").exists() and (context / MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image"]


def test_a_failure_midway_leaves_the_previous_output_whole_and_no_partial(handmade_bundle, tmp_path, monkeypatch):
    context = tmp_path / "image"
    endpoint_image.stage_image_context(context)
    before = contents(context)
    monkeypatch.setattr(endpoint_image, "ENDPOINT_DIR", tmp_path / "missing")  # the Dockerfile cannot be copied
    with pytest.raises(FileNotFoundError):
        endpoint_image.stage_image_context(context)
    assert contents(context) == before

    pkg = tmp_path / "lambda"
    build_lambda_package(handmade_bundle, pkg, install=False)
    before = contents(pkg)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(lambda_package, "find_python", interrupted)  # after the code and bundle are copied
    with pytest.raises(KeyboardInterrupt):
        build_lambda_package(handmade_bundle, pkg, install=False)
    assert contents(pkg) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image", "lambda", "lambda.size.json"]
