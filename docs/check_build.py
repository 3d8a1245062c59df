"""Check a built documentation site: API pages and gallery figures are there.

Run after ``python -m sphinx -b html docs docs/_build/html``::

    python docs/check_build.py docs/_build/html

It fails (exit status 1, listing what is missing) when a public name of
sklstm has no API page, when an API page does not document its object, or
when a gallery example has no figure in its page.
"""

import argparse
import importlib
import re
import sys
from pathlib import Path

# Every public module and the names it exports through __all__.
PUBLIC_MODULES = ("sklstm", "sklstm.datasets")


def public_names():
    names = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if not name.startswith("__"):
                names.append(f"{module_name}.{name}")
    return names


def missing_api_pages(html):
    problems = []
    for name in public_names():
        page = html / "generated" / f"{name}.html"
        if not page.is_file():
            problems.append(f"no API page for {name} ({page})")
        elif f'id="{name}"' not in page.read_text(encoding="utf-8"):
            problems.append(f"{page} does not document {name}")
    return problems


def missing_gallery_figures(html, examples):
    problems = []
    scripts = sorted(examples.glob("plot_*.py"))
    if not scripts:
        problems.append(f"no gallery example found in {examples}")
    for script in scripts:
        page = html / "auto_examples" / f"{script.stem}.html"
        if not page.is_file():
            problems.append(f"no gallery page for {script.name}")
            continue
        images = re.findall(
            rf'src="[^"]*(sphx_glr_{re.escape(script.stem)}_\d+\.png)"',
            page.read_text(encoding="utf-8"),
        )
        if not images:
            problems.append(f"{page} shows no figure")
        for image in images:
            if not (html / "_images" / image).is_file():
                problems.append(f"{page} links to missing figure {image}")
    return problems


def main(argv=None):
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", default=root / "docs" / "_build" / "html")
    parser.add_argument("--examples", default=root / "examples")
    args = parser.parse_args(argv)
    html, examples = Path(args.html), Path(args.examples)

    problems = missing_api_pages(html) + missing_gallery_figures(html, examples)
    for problem in problems:
        print(f"MISSING: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"{len(public_names())} API pages and the figures of "
        f"{len(list(examples.glob('plot_*.py')))} gallery examples found in {html}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
