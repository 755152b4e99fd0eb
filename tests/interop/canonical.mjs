// The browser's canonical codename: mirrors crypto/codename.py canonical_codename exactly.
// The intake page's script must compute the same form (the interop tests check this rule).

// Python's str.split() whitespace (str.isspace), so the browser splits exactly where the
// server does. JS's /\s/ differs: it lacks U+001C-U+001F and U+0085 and adds U+FEFF.
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
export const CODENAME_WORDS = 8;

export function canonicalize(text) {
  const folded = text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/\u0131/g, 'i') // Turkish dotless i, which capitals turn into I
    .replace(/\p{M}/gu, '');
  let words = folded.split(PY_WHITESPACE).filter((w) => w.length > 0);
  if (words.length === 1 && [...words[0]].length >= CODENAME_WORDS) {
    words = [...words[0]]; // Chinese codenames are often typed without spaces
  }
  return words.join(' ');
}
