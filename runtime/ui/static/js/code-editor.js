// The snippet editor: CodeMirror 6 (vendored) with Python highlighting, line numbers,
// 4-space indentation, Tab to indent, and inline diagnostics from the validate call.
import {
  EditorState, EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars, defaultKeymap, history, historyKeymap, indentWithTab,
  syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching, indentUnit,
  python, lintGutter, setDiagnostics,
} from "../vendor/codemirror.bundle.js";

export function createEditor(parent, { doc = "", readOnly = false, onChange, onSave, onTest }) {
  const run = (action) => () => {
    if (action) action();
    return true;
  };
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        indentUnit.of("    "),
        python(),
        lintGutter(),
        keymap.of([
          { key: "Mod-s", run: run(onSave), preventDefault: true },
          { key: "Mod-Enter", run: run(onTest), preventDefault: true },
          ...defaultKeymap,
          ...historyKeymap,
          indentWithTab,
        ]),
        EditorState.readOnly.of(readOnly),
        EditorView.editable.of(!readOnly),
        EditorView.contentAttributes.of({ "aria-label": "Snippet code" }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && onChange) onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    view,
    get code() {
      return view.state.doc.toString();
    },
    set code(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    focus: () => view.focus(),
    // issues: [{message, line, column}] from /v1/snippets/validate or a 422 compile_error.
    showIssues(issues) {
      const doc = view.state.doc;
      const diagnostics = (issues || []).map((issue) => {
        const line = doc.line(Math.min(Math.max(issue.line || 1, 1), doc.lines));
        let from = Math.min(line.from + (issue.column || 0), line.to);
        if (from >= line.to) from = line.from; // an error at the end of a line marks the line
        return {
          from,
          to: Math.max(from, line.to),
          severity: "error",
          message: issue.line ? `line ${issue.line}: ${issue.message}` : issue.message,
        };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
  };
}
