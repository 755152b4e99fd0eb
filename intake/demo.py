"""Sample submissions for a demo instance, made through the real pipeline.

Each goes the way a no-JavaScript submission goes: its files are sealed into incoming
streams, then verified, cleaned, sealed to the desk and recorded with custody events. The
reports are invented; the photo carries made-up camera details and a position, to show
what cleaning removes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from crypto.stream import StreamWriter, new_stream_key
from filon.instance import Instance
from intake.submission import IncomingFile, Outcome, submit


@dataclass(frozen=True)
class Sample:
    """One invented submission."""

    lang: str
    answers: dict[str, str]
    photo: bool


SAMPLES = (
    Sample(
        lang="fr",
        answers={
            "report": (
                "Des hommes armés contrôlent l'accès au site de lavage depuis deux semaines et "
                "prélèvent une part de chaque sac de cassitérite. Les creuseurs doivent payer "
                "pour passer la barrière."
            ),
            "place": "Site de lavage près de la rivière (exemple)",
            "when": "Depuis le début du mois",
        },
        photo=True,
    ),
    Sample(
        lang="en",
        answers={
            "report": (
                "Trucks leave the depot at night without the tags that the traceability scheme "
                "requires. The drivers say the load goes to a comptoir in town (example)."
            ),
        },
        photo=False,
    ),
)


def sample_photo() -> bytes:
    """A small JPEG with camera details and a GPS position in its EXIF, as phones write."""
    image = Image.new("RGB", (320, 240), (150, 110, 70))
    exif = Image.Exif()
    exif[0x010F] = "ExampleCam"  # make
    exif[0x0110] = "Field 3"  # model
    exif[0x0131] = "ExampleOS 1.0"  # software
    gps = exif.get_ifd(0x8825)
    gps.update({1: "S", 2: (1.0, 40.0, 12.0), 3: "E", 4: (28.0, 52.0, 30.0)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=85)
    return buffer.getvalue()


def _incoming(instance: Instance, name: str, media_type: str, data: bytes) -> IncomingFile:
    key = new_stream_key()
    blob_id = instance.store.new_id()
    with open(instance.store.incoming_path(blob_id), "xb") as handle:
        writer = StreamWriter(handle, key)
        writer.write(data)
        writer.close()
    if writer.summary is None:
        raise RuntimeError("the sample stream has no summary")
    return IncomingFile(
        blob_id=blob_id,
        key=key,
        stream_size=writer.summary.ciphertext_size,
        name=name,
        type=media_type,
        claimed_size=len(data),
        claimed_sha256=writer.summary.plaintext_sha256,
        keep_location=True,
        keep_time=False,
    )


def seed_submissions(instance: Instance, desk_slug: str) -> list[Outcome]:
    """Send the sample submissions to a desk; returns their receipts."""
    outcomes = []
    for sample in SAMPLES:
        files = []
        if sample.photo:
            files.append(_incoming(instance, "IMG_0042.jpg", "image/jpeg", sample_photo()))
        outcomes.append(
            submit(
                instance,
                desk_slug=desk_slug,
                lang=sample.lang,
                answers=dict(sample.answers),
                files=files,
                codename=None,
            )
        )
    return outcomes
