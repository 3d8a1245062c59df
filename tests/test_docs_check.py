"""docs/check_build.py finds missing API pages and gallery figures."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def check_build():
    spec = importlib.util.spec_from_file_location(
        "check_build", ROOT / "docs" / "check_build.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _site(tmp_path, check_build):
    """A minimal built site with every API page and one example's figure."""
    html = tmp_path / "html"
    (html / "generated").mkdir(parents=True)
    (html / "auto_examples").mkdir()
    (html / "_images").mkdir()
    for name in check_build.public_names():
        (html / "generated" / f"{name}.html").write_text(f'<dt id="{name}">')
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "plot_a.py").write_text("")
    (html / "auto_examples" / "plot_a.html").write_text(
        '<img src="../_images/sphx_glr_plot_a_001.png">'
    )
    (html / "_images" / "sphx_glr_plot_a_001.png").write_bytes(b"")
    return html, examples


def test_public_names_cover_the_package(check_build):
    names = check_build.public_names()
    assert "sklstm.LSTMRegressor" in names
    assert "sklstm.LossCurveDisplay" in names
    assert "sklstm.datasets.load_co2" in names
    assert not any(name.endswith("__version__") for name in names)


def test_complete_site_passes(tmp_path, check_build):
    html, examples = _site(tmp_path, check_build)
    assert check_build.main([str(html), "--examples", str(examples)]) == 0


def test_missing_api_page_and_figure_fail(tmp_path, check_build, capsys):
    html, examples = _site(tmp_path, check_build)
    (html / "generated" / "sklstm.LSTMRegressor.html").unlink()
    (html / "_images" / "sphx_glr_plot_a_001.png").unlink()
    (examples / "plot_b.py").write_text("")

    assert check_build.main([str(html), "--examples", str(examples)]) == 1
    err = capsys.readouterr().err
    assert "no API page for sklstm.LSTMRegressor" in err
    assert "missing figure sphx_glr_plot_a_001.png" in err
    assert "no gallery page for plot_b.py" in err


def test_page_that_does_not_document_its_object_fails(tmp_path, check_build, capsys):
    html, examples = _site(tmp_path, check_build)
    (html / "generated" / "sklstm.LSTMRegressor.html").write_text("<p>empty</p>")
    assert check_build.main([str(html), "--examples", str(examples)]) == 1
    assert "does not document sklstm.LSTMRegressor" in capsys.readouterr().err
