"""How the browser tests and the browser benchmark start Debian's Chromium.

Debian's build, driven by Playwright: a browser of Playwright's own is never downloaded.
"""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: no background requests of Chromium's own (updates, sync, safe browsing)
# that would muddle the record of what the page sends.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
