"""The web pages, each served inside one layout: `static/layout.html` holds what every page has (the head,
the progress bar, the top bar, the scripts format.js, http.js and topbar.js); `static/NAME.html` holds only
what is the page's own (its `<main>`, its drawer). `PAGES` says per page its title, which top-bar link is
current, and the scripts, bundles and style sheets it loads beside the common ones."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Page:
    title: str
    topbar: str  # the top bar's current link
    scripts: tuple[str, ...] = ()  # static/NAME.js, after the common scripts
    vendor: tuple[str, ...] = ()  # static/vendor/NAME.js (npm bundles), before them
    styles: tuple[str, ...] = ()  # static/NAME.css, after style.css
    head: str = ""  # more of the head
    refresh: bool = False  # the body carries the server's refresh seconds (`data-refresh`)


PAGES = {
    "index": Page("Task Runs", "taskruns", ("list", "chart", "app"), refresh=True),
    "executions": Page("Executions", "executions", ("list", "executions"), refresh=True),
    "logs": Page("Logs", "logs", ("list", "logs"), refresh=True),
    "namespaces": Page("Namespaces", "namespaces", ("namespaces",)),
    "flows": Page(
        "Flows",
        "flows",
        ("inputs", "flows"),
        vendor=("editor", "diff"),
        head='<meta name="style-nonce" content="__STYLE_NONCE__">',
    ),
    "execution": Page(
        "Execution",
        "executions",
        ("gantt", "topology", "inputs", "execution"),
        vendor=("graph",),
        styles=("execution",),
    ),
}


def _tags(template: str, names: tuple[str, ...]) -> str:
    return "".join("\n  " + template.format(name) for name in names)


def render(name: str, refresh_seconds: int = 0) -> str:
    """The whole HTML of page `name` (a key of `PAGES`)."""
    page = PAGES[name]
    own = (STATIC / f"{name}.html").read_text()
    return Template((STATIC / "layout.html").read_text()).substitute(
        title=page.title,
        topbar=page.topbar,
        head=f"\n  {page.head}" if page.head else "",
        styles=_tags('<link rel="stylesheet" href="/static/{}.css">', page.styles),
        body=f' data-refresh="{refresh_seconds}"' if page.refresh else "",
        main=own.split("\n", 1)[1].rstrip("\n"),  # without its first line, the comment naming this module
        vendor=_tags('<script src="/static/vendor/{}.js"></script>', page.vendor).lstrip("\n"),
        scripts=_tags('<script src="/static/{}.js"></script>', page.scripts).lstrip("\n"),
    )
