"""axe-core in the browser tests: the serious and critical accessibility findings of the page as it is now."""

from __future__ import annotations

from typing import Any

from tests.cli import ROOT

AXE = ROOT / "ui" / "node_modules" / "axe-core" / "axe.min.js"

# Rules whose "needs review" answer is a defect of ours too: axe only asks for a review of an aria-label on
# an element whose role forbids it when the element has text (the label is then ignored: a screen reader
# reads the text), but the attribute is as wrong as on an empty element.
REVIEW_IS_FAILURE = {"aria-prohibited-attr", "aria-hidden-focus"}


def serious_violations(page: Any) -> list[str]:
    # evaluated through the debugging protocol: the page's CSP (rightly) refuses an injected script tag
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;undefined")
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document);
          return result.violations.concat(result.incomplete.map((v) => ({ ...v, review: true })));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}{', needs review' if v.get('review') else ''}): {v['help']} "
        f"at {[n['target'] for n in v['nodes']][:5]}"
        for v in found
        if v["impact"] in ("serious", "critical") and (not v.get("review") or v["id"] in REVIEW_IS_FAILURE)
    ]
