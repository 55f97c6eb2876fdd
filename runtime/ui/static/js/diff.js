// A line diff (longest common subsequence) laid out side by side.

// Rows of {left, right, leftNo, rightNo, kind}: kind is "same", "changed", "removed" or "added".
export function sideBySide(oldText, newText) {
  const a = oldText.split("\n");
  const b = newText.split("\n");
  // lcs[i][j]: length of the longest common subsequence of a[i:] and b[j:].
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const rows = [];
  let removed = [];
  let added = [];
  const flush = () => {
    // Pair removed and added lines up as changes, the rest stand alone.
    const n = Math.max(removed.length, added.length);
    for (let k = 0; k < n; k++) {
      const left = removed[k];
      const right = added[k];
      const kind = left && right ? "changed" : left ? "removed" : "added";
      rows.push({ left: left?.text, leftNo: left?.no, right: right?.text, rightNo: right?.no, kind });
    }
    removed = [];
    added = [];
  };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      flush();
      rows.push({ left: a[i], leftNo: i + 1, right: b[j], rightNo: j + 1, kind: "same" });
      i++;
      j++;
    } else if (j >= b.length || (i < a.length && lcs[i + 1][j] >= lcs[i][j + 1])) {
      removed.push({ text: a[i], no: i + 1 });
      i++;
    } else {
      added.push({ text: b[j], no: j + 1 });
      j++;
    }
  }
  flush();
  return rows;
}
