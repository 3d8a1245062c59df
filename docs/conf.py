"""Sphinx configuration of the sklstm documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
from the repository root. The gallery (``examples/``) runs on every build.
"""

import os
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the gallery and plot directives draw off screen
# Lay out every gallery figure so that no axis label is cut off.
matplotlib.rcParams["figure.constrained_layout.use"] = True

ROOT = Path(__file__).resolve().parents[1]
# Document the checked-out code, not whatever sklstm is installed.
sys.path.insert(0, os.fspath(ROOT))

import sklstm  # noqa: E402

project = "sklstm"
author = "sklstm developers"
copyright = "sklstm developers"
release = sklstm.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples"]
root_doc = "index"

# API reference: one page per public name, generated from the docstrings.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# numpydoc renders the Parameters/Attributes sections; the member tables
# come from the autosummary class template instead.
numpydoc_show_class_members = False
numpydoc_validation_checks = set()

sphinx_gallery_conf = {
    "examples_dirs": os.fspath(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Run every example (each takes seconds), so the gallery cannot rot.
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    # Fail the build on an example that raises.
    "abort_on_example_error": True,
    # Keep the rcParams set above (the examples change none).
    "reset_modules": (),
    # "Gallery examples" sections on the API pages.
    "doc_module": ("sklstm",),
    "backreferences_dir": "generated/backreferences",
}

# The plot directive of the user guide: PNG only, no source links.
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]

html_theme = "pydata_sphinx_theme"
html_title = f"sklstm {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "getting_started": []}
html_show_sourcelink = False


# Methods inherited from scikit-learn (score, get_params, set_fit_request...)
# link to labels and glossary terms of scikit-learn's own documentation, which
# this build cannot resolve offline: keep their text, drop the link.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<([^`>]*)>)?`")


def _unlink_sklearn_roles(app, what, name, obj, options, lines):
    if not (getattr(obj, "__module__", None) or "").startswith("sklearn."):
        return
    for i, line in enumerate(lines):
        lines[i] = _SKLEARN_ROLE.sub(lambda m: m.group(1) or m.group(2), line)


def setup(app):
    app.connect("autodoc-process-docstring", _unlink_sklearn_roles, priority=100)
