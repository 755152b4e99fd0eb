// The canonical form of a codename, exactly as crypto/codename.py canonical_codename computes
// it (without the wordlist check, which only the server makes): the browser derives the
// source key from this form, so it must match the server's byte for byte. The interop tests
// (tests/interop/canonical.mjs re-exports this module) check it against Python for every
// wordlist language.
//
// NFKD, lower case, combining marks removed, Turkish dotless ı read as i, words joined by one
// space; a single run of eight or more characters (Chinese codenames are often typed without
// spaces) is split into characters.

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

/** How many words a canonical codename has. */
export function wordCount(canonical) {
  return canonical === '' ? 0 : canonical.split(' ').length;
}
