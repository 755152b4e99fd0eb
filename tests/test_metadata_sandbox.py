"""The worker process: cleaning through it, its limits, and its failures turned into reasons.

Each call here starts a real worker process (about half a second), so this file keeps to the
cases that need one; the format tests run the same code in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filon.models import CleaningStatus
from intake import metadata
from intake.metadata import sandbox
from intake.metadata.limits import WORKER_MEMORY_BYTES, WORKER_OPEN_FILES
from tests.samples import exiftool, make
from tests.samples.exiftool import LATITUDE, LONGITUDE

HOSTILE = "tests.samples.hostile_worker"


def test_a_photo_is_cleaned_through_the_worker() -> None:
    original = make.jpeg_with_pillow_exif(orientation=6)
    result = metadata.clean(original, filename="IMG_0001.JPG", declared_type="image/jpeg")
    assert result.status is CleaningStatus.CLEANED, result.reason
    assert result.kind == "image"
    assert result.media_type == "image/jpeg"
    assert result.extension is None
    assert result.reason is None
    assert result.location == pytest.approx((LATITUDE, LONGITUDE), abs=1e-4)
    assert result.taken_at == "2024-05-01T10:20:30"
    assert "GPS position" in result.found
    assert "GPS position" in result.removed
    exiftool.assert_clean(result.data)


@pytest.mark.parametrize(
    ("case", "data", "filename", "status", "reason"),
    [
        (
            "garbage named photo.jpg",
            bytes(range(256)) * 16,
            "photo.jpg",
            "not_cleaned",
            "not a JPEG picture",
        ),
        ("decompression bomb", make.png_bomb(), "bomb.png", "not_cleaned", "too large"),
        ("plain text", b"Minerais de Rubaya, 3 tonnes\n", "notes.txt", "nothing_to_clean", None),
        ("empty file", b"", "empty.txt", "nothing_to_clean", None),
    ],
)
def test_files_through_the_worker(
    case: str, data: bytes, filename: str, status: str, reason: str | None
) -> None:
    result = metadata.clean(data, filename=filename, declared_type="")
    assert result.status == status, case
    assert result.data == data  # anything not cleaned comes back exactly as it came
    if reason is None:
        assert result.reason is None
    else:
        assert result.reason
        assert reason in result.reason


def test_files_too_large_are_not_cleaned_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata, "CLEAN_MAX_BYTES", 1000)
    data = make.jpeg_with_pillow_exif() + bytes(1000)
    result = metadata.clean(data, filename="photo.jpg", declared_type="image/jpeg")
    assert result.status is CleaningStatus.NOT_CLEANED
    assert result.reason
    assert "too large" in result.reason
    assert result.data == data
    assert result.kind == "image"


def test_the_worker_runs_with_its_limits_and_cannot_write_files() -> None:
    report = sandbox.self_check()
    limits = report["limits"]
    assert limits["RLIMIT_FSIZE"] == [0, 0]
    assert limits["RLIMIT_CORE"] == [0, 0]
    assert limits["RLIMIT_AS"] == [WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES]
    assert limits["RLIMIT_NOFILE"] == [WORKER_OPEN_FILES, WORKER_OPEN_FILES]
    assert limits["RLIMIT_CPU"][0] > 0
    assert report["write_blocked"] is True


def test_a_worker_under_those_limits_cannot_write_to_disk(tmp_path: Path) -> None:
    target = tmp_path / "leak.bin"
    answer = _hostile("write", declared_type=str(target))
    assert json.loads(sandbox.split_frames(answer, 2)[0]) == {"write": "refused: File too large"}
    assert not target.exists() or target.stat().st_size == 0


def _hostile(action: str, declared_type: str = "", timeout: float = 20) -> bytes:
    header = json.dumps({"filename": action, "declared_type": declared_type}).encode()
    return sandbox.exchange(
        sandbox.frame(header) + sandbox.frame(b"x" * 1000), module=HOSTILE, timeout=timeout
    )


@pytest.mark.parametrize(
    ("action", "timeout", "reason"),
    [
        ("crash", 20, "crashed"),
        ("hang", 1.5, "time limit"),
        ("spin", 20, "CPU time limit"),
        ("memory", 20, "failed"),
        ("garbage", 20, "incomplete answer"),
        ("lie", 20, "malformed answer"),
    ],
)
def test_a_misbehaving_worker_is_a_reason_not_an_exception(
    action: str, timeout: float, reason: str
) -> None:
    with pytest.raises(sandbox.WorkerFailed, match=reason):
        sandbox.run(b"x" * 1000, filename=action, declared_type="", module=HOSTILE, timeout=timeout)
    # ...and the next file is cleaned by a fresh worker as if nothing happened.
    result = metadata.clean(b"still fine\n", filename="notes.txt", declared_type="text/plain")
    assert result.status is CleaningStatus.NOTHING_TO_CLEAN


def test_clean_turns_a_worker_failure_into_not_cleaned(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_: object, **__: object) -> None:
        raise sandbox.WorkerFailed("the file crashed the program that reads it")

    monkeypatch.setattr(sandbox, "run", crash)
    data = make.jpeg_with_pillow_exif()
    result = metadata.clean(data, filename="photo.jpg", declared_type="image/jpeg")
    assert result.status is CleaningStatus.NOT_CLEANED
    assert result.reason == "the file crashed the program that reads it"
    assert result.data == data
    assert result.removed == []


def test_the_worker_environment_carries_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILON_SECRET_KEY", "do-not-inherit")
    environment = sandbox._environment()
    assert "FILON_SECRET_KEY" not in environment
    assert set(environment) == {
        "PATH",
        "LANG",
        "LC_ALL",
        "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
        "MALLOC_ARENA_MAX",
    }
