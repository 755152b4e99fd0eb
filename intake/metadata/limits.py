"""Every limit the cleaner applies to untrusted files, in one place, each with its reason.

The numbers fit together: the worker may use at most ``WORKER_MEMORY_BYTES`` of address
space, and the largest file it accepts (``CLEAN_MAX_BYTES``) is small enough that the file,
its cleaned copy, a second copy on its way through a pipe and the decoded pixels of the
largest picture we accept (``MAX_PIXELS`` × 4 bytes) fit in that space together with the
Python interpreter and its libraries (about 150 MiB of address space).
"""

from __future__ import annotations

MIB = 1024 * 1024

# Files up to this size are cleaned in memory. 48 MiB holds any phone photo (3-15 MB, or
# 25-30 MB for a 48 Mpx HEIC/JPEG), nearly every document, a voice memo of hours and about
# 30-60 s of phone video. The web process holds the file in memory while it is cleaned
# (DESIGN.md §4: plaintext never touches disk), and each worker holds up to ~5 copies of it;
# a larger limit multiplies memory use under concurrent uploads. Larger files are stored as
# received, flagged ``not_cleaned``, and the source is told before sending.
CLEAN_MAX_BYTES = 48 * MIB

# The cleaned file may be larger than the original (HEIC → JPEG about 2×, a JPEG-compressed
# TIFF re-encoded losslessly much more). Beyond this we give up rather than exhaust memory.
MAX_OUTPUT_BYTES = 4 * CLEAN_MAX_BYTES

# 64 Mpx covers the 48-50 Mpx modes of current phones; decoded as RGBA it is 256 MiB, which
# fits in the worker's address space next to the file itself. Pillow warns above this and
# refuses above twice this (decompression bombs: a few KB declaring gigapixels).
MAX_PIXELS = 64_000_000

# Animated pictures and multi-page TIFFs: all frames together are decoded to check them.
MAX_FRAMES = 1000
MAX_TOTAL_PIXELS = 4 * MAX_PIXELS

# The worker process (see sandbox.py). Address space rather than resident memory, because
# that is what the kernel can enforce per process without cgroups; 1 GiB leaves room for the
# interpreter, libheif's and qpdf's own buffers and ffmpeg (which gets its own 1 GiB).
WORKER_MEMORY_BYTES = 1024 * MIB
# CPU seconds: re-encoding a 64 Mpx picture or rewriting a 48 MiB PDF takes a few seconds;
# a parser stuck in a loop on a hostile file is stopped by the kernel (SIGXCPU) at 30 s.
WORKER_CPU_SECONDS = 30
# Wall-clock seconds, enforced by the parent: catches a worker that blocks without using CPU.
WORKER_WALL_SECONDS = 60.0
# Open files: the worker needs its three pipes, the pipes to ffmpeg and the modules it
# imports lazily, one at a time. A small number stops a hostile file from exhausting them.
WORKER_OPEN_FILES = 32

# ZIP containers (OOXML, ODF). A real .docx has 10-60 parts and a large .pptx a few hundred;
# thousands of parts, or parts that inflate more than 200× (XML rarely beats 50×), are zip
# bombs or not documents. The total must fit in memory twice (read, then rewritten).
ZIP_MAX_ENTRIES = 2000
ZIP_MAX_TOTAL_BYTES = 256 * MIB
ZIP_MAX_RATIO = 200
# One XML part: bigger parts exist (huge spreadsheets) but are unusual for a source's upload.
XML_MAX_BYTES = 64 * MIB

# An ICC colour profile is a few hundred bytes to a few hundred KB; 4 MiB is generous.
ICC_MAX_BYTES = 4 * MIB

# Long side of an investigator's preview of a picture: enough to judge a photo on the
# submission page, small enough that a preview costs a few tens of kilobytes.
PREVIEW_MAX_SIDE = 640
