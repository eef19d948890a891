// The flow editor of the Flows page: CodeMirror 6 with YAML highlighting, search, history and a lint
// gutter fed by the API's validation errors. The page sees only `window.ConveyorEditor.create`.
import { EditorState } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching } from "@codemirror/language";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { linter, lintGutter, forceLinting } from "@codemirror/lint";
import { yaml } from "@codemirror/lang-yaml";

// validate(text) → Promise<[{line, column, message, severity}]> (1-based line and column, as the API answers;
// severity "error" unless said).
function create(parent, { doc = "", validate = null, onChange = null, label = "flow YAML" } = {}) {
  const extensions = [
    lineNumbers(), highlightActiveLineGutter(), history(), drawSelection(), indentOnInput(),
    bracketMatching(), highlightActiveLine(), highlightSelectionMatches(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }), yaml(), lintGutter(),
    keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap, ...searchKeymap]),
    EditorView.contentAttributes.of({ "aria-label": label }),
    // The page's Content-Security-Policy admits the editor's own <style> element by this nonce only.
    EditorView.cspNonce.of(document.querySelector('meta[name="style-nonce"]')?.content || ""),
    EditorView.updateListener.of((update) => {
      if (update.docChanged && onChange) onChange(update.state.doc.toString());
    }),
  ];
  if (validate) {
    extensions.push(linter(async (view) => {
      const text = view.state.doc.toString();
      const problems = await validate(text);
      return problems.map((p) => toDiagnostic(view.state.doc, p));
    }, { delay: 400 }));
  }
  const view = new EditorView({ state: EditorState.create({ doc, extensions }), parent });
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    relint: () => forceLinting(view),
    focus: () => view.focus(),
  };
}

function toDiagnostic(doc, { line = 1, column = 1, message = "", severity = "error" }) {
  const at = doc.line(Math.min(Math.max(line, 1), doc.lines));
  const from = Math.min(at.from + Math.max(column, 1) - 1, at.to);
  return { from, to: Math.max(from, at.to), severity, message };
}

window.ConveyorEditor = { create };
