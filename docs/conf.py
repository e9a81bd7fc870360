"""Sphinx configuration of the revsim documentation site.

Build it with ``make docs`` (HTML in ``docs/_build/html``), or ``sphinx-build -W -b html docs docs/_build/html``.
The guides are the Markdown files of this directory (MyST); the command-line reference is generated from the
click commands (sphinx-click) and the scenario reference from the scenario schema (``_ext/scenario_schema.py``),
so neither can drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

from revsim import __version__  # noqa: E402  (the package is installed; _ext must be on the path first)

project = "revsim"
author = "revsim developers"
copyright = "revsim developers"  # noqa: A001
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx_click",
    "scenario_schema",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
smartquotes = False  # field names, paths and YAML in prose stay exactly as typed
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- MyST ---------------------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_fence_as_directive = ["math"]  # the guides write display equations as ```math blocks (as GitHub renders them)
myst_heading_anchors = 3  # GitHub-style anchors, so links such as model.md#8-random-numbers work on both
myst_dmath_double_inline = True

# -- API reference ------------------------------------------------------------------------------------------
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_mock_imports: list[str] = []
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
nitpicky = False

# -- HTML ---------------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"revsim {version}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": []}
html_show_sourcelink = False
html_last_updated_fmt = None
