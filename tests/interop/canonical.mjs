// The browser's canonical codename lives in the page's own static module, so the interop
// tests check the very code the intake page runs (against crypto/codename.py).
export { CODENAME_WORDS, canonicalize } from '../../intake/static/intake/canonical.mjs';
