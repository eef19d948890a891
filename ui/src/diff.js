// The revision diff of the Flows page: jsdiff's line diff. The page sees only `window.ConveyorDiff.lines`.
import { diffLines } from "diff";

// → [{kind: "same" | "added" | "removed", text}] (one entry per line)
function lines(before, after) {
  const out = [];
  for (const part of diffLines(before, after)) {
    const kind = part.added ? "added" : part.removed ? "removed" : "same";
    const text = part.value.endsWith("\n") ? part.value.slice(0, -1) : part.value;
    for (const line of text.split("\n")) out.push({ kind, text: line });
  }
  return out;
}

window.ConveyorDiff = { lines };
