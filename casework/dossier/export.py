"""Exporting a case as a signed ``filon-dossier/1`` ZIP (DESIGN.md §8), with constant memory.

The work is split in three so that no database transaction is held while files stream:

1. :func:`plan_export` (in a transaction) checks that the user may export from the case's
   desk, opens the chosen files' keys with the desk key and reads what the sealed metadata
   recorded of each file: its name, consented location, the SHA-256 and size of the stored
   (cleaned) plaintext and of the plaintext as received.
2. :func:`build_dossier` (no transaction) draws the report, with thumbnails re-rendered by
   the intake's sandboxed worker, and signs the manifest. Every hash in the manifest is known
   before the first byte streams, so the export can be audited with the manifest's own hash
   and the ZIP's final length is known (``Content-Length``: the browser shows progress).
3. :meth:`Dossier.chunks` streams the ZIP. Each evidence file is decrypted chunk by chunk
   and hashed again as it goes: a file whose bytes do not match the manifest stops the
   stream before the ZIP's central directory, so a bad copy can never look complete.

ZIP writing is zipstream-ng's: it produces the archive as an iterator of chunks (exactly what
a WSGI response and a file both take), writes ZIP64 records by itself past 4 GiB, and, with
every entry's size known in advance, computes the archive's length before it starts. The
standard library's ``zipfile`` can write to an unseekable stream too, but only through a
file-like object we would have to drain into an iterator ourselves, and it cannot say the
length up front. Entries are stored, not deflated: evidence is mostly JPEG, video and PDF
that do not shrink, and stored bytes keep an entry's size equal to the listed size.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import zipstream
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import filon
from casework import audit, geodata
from casework.cases import case_timeline, member_case, merged_into
from casework.models import Case, CaseEvidence, CaseSubmission
from crypto.keys import BoxKeyPair, SigningKeyPair, b64encode, fingerprint, format_fingerprint
from crypto.sealing import open_sealed
from crypto.signing import sign_detached
from crypto.stream import CHUNK_SIZE, CIPHER_CHUNK_SIZE, PREFIX_SIZE, StreamReader
from filon.accounts import open_desk_key
from filon.blobstore import BlobStore
from filon.custody import canonical_json, chain, event_record, format_time
from filon.db import transaction, utc_now
from filon.errors import CustodyChainBroken, FilonError
from filon.models import CleaningStatus, Desk, DeskMembership, Evidence, Submission, User
from filon.ports import CaseworkPorts, is_preview
from filon.sandbox import WorkerFailed
from filon.submissions import safe_filename

FORMAT = "filon-dossier/1"
EXPORTED = "dossier_exported"
REDACTED = "[redacted]"
MAX_PRECISION = 6  # decimal places of a coordinate: about 10 cm, more than any phone knows
VERIFY_SOURCE = Path(filon.__file__).parent / "dossier_verify.py"


class ExportRefused(FilonError):
    """The dossier cannot be made as asked (the view answers 400 with the reason)."""


class NotCleanedRefused(ExportRefused):
    """A ``not_cleaned`` file was chosen without the explicit confirmation."""


class ExportNotAllowed(FilonError):
    """The user's membership of the case's desk does not allow exports."""


class DossierCorrupt(FilonError):
    """A stored file's bytes differ from what its manifest entry says: the stream stops."""


@dataclass(frozen=True)
class ExportOptions:
    """What goes into a dossier: the person exporting chooses each of these."""

    evidence: frozenset[int] | None = None  # Evidence ids; None: every file of the case
    include_answers: bool = True  # the sources' answers, in the report only
    redact: frozenset[str] = frozenset()  # answer fields replaced by "[redacted]"
    location_precision: int | None = 3  # decimal places of consented locations; None: left out
    include_not_cleaned: bool = False  # must be said explicitly for a not_cleaned file to go in

    def __post_init__(self) -> None:
        precision = self.location_precision
        if precision is not None and not 0 <= precision <= MAX_PRECISION:
            raise ExportRefused(f"location precision is 0 to {MAX_PRECISION} decimal places")


@dataclass(frozen=True, repr=False)
class PlannedFile:
    """One evidence file chosen for the dossier, with its key opened."""

    evidence_id: int
    path: str
    reference: str
    number: int  # its number in its submission
    name: str
    kind: str
    cleaning_status: CleaningStatus
    blob_id: str
    ciphertext_size: int
    file_key: bytes
    sha256: str | None  # of the stored plaintext, as the sealed report recorded it
    size: int
    original_sha256: str | None
    location: tuple[float, float] | None  # consented, already coarsened (or None)
    custody: list[dict[str, Any]]

    @property
    def cleaned(self) -> bool:
        return self.cleaning_status is CleaningStatus.CLEANED


@dataclass(frozen=True, repr=False)
class PlannedSubmission:
    """A submission of the case as the report shows it."""

    reference: str
    received_hour: dt.datetime
    lang: str
    answers: dict[str, str]  # redacted as asked; empty when answers are left out
    custody: list[dict[str, Any]]


@dataclass(frozen=True, repr=False)
class ExportPlan:
    """Everything read from the record for one export; no transaction is needed after this."""

    case: dict[str, Any]
    desk_slug: str
    desk_name: str
    user: str
    options: ExportOptions
    files: list[PlannedFile]
    submissions: list[PlannedSubmission]
    timeline: list[dict[str, Any]]
    # The case's mine sites, actors, chain links and geotags (casework.geodata's case scope,
    # from the chosen files); geotags rounded as the location option says, or left out.
    places: geodata.PlaceData = field(
        default_factory=lambda: geodata.PlaceData(sites=[], geotags=[], actors=[], chain_links=[])
    )


@dataclass
class Entry:
    """One file of the ZIP: its bytes in memory, or an evidence file to decrypt."""

    path: str
    size: int
    sha256: str
    data: bytes | None = None
    planned: PlannedFile | None = None


@dataclass(repr=False)
class Dossier:
    """A signed dossier ready to stream: its manifest is final before any byte goes out."""

    manifest: bytes
    signature: bytes
    entries: list[Entry]
    store: BlobStore
    _zip: Any = field(default=None)

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest).hexdigest()

    def _archive(self) -> Any:
        if self._zip is None:
            # sized: every entry's size is known, so the archive's length is too.
            archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
            for entry in self.entries:
                if entry.data is not None:
                    archive.add(entry.data, entry.path)
                else:
                    archive.add(_EvidenceBytes(self.store, entry), entry.path, size=entry.size)
            archive.add(self.manifest, "manifest.json")
            archive.add(base64.b64encode(self.signature), "manifest.sig")
            self._zip = archive
        return self._zip

    def length(self) -> int:
        """The ZIP's length in bytes, before it is made."""
        return len(self._archive())

    def chunks(self) -> Iterator[bytes]:
        """The ZIP, chunk by chunk (one evidence chunk in memory at a time)."""
        yield from self._archive()


class _EvidenceBytes:
    """An evidence file's plaintext, decrypted and checked against the manifest as it streams."""

    def __init__(self, store: BlobStore, entry: Entry) -> None:
        self.store = store
        self.entry = entry

    def __iter__(self) -> Iterator[bytes]:
        planned = self.entry.planned
        assert planned is not None  # noqa: S101 - only evidence entries are made of these
        # The reader hashes the plaintext on a second thread as it decrypts: that digest
        # is the check, with no second pass over the bytes.
        with self.store.open(planned.blob_id) as handle:
            reader = StreamReader(handle, planned.file_key, expected_size=planned.ciphertext_size)
            yield from reader
        summary = reader.summary
        if (summary.plaintext_sha256, summary.plaintext_size) != (
            self.entry.sha256,
            self.entry.size,
        ):
            raise DossierCorrupt(f"{self.entry.path} does not match its recorded hash")


# -- 1. the plan ----------------------------------------------------------------------------------


def check_can_export(session: Session, *, user: User, case_id: int) -> tuple[Case, Desk]:
    """The case, if the user is a member of its desk allowed to export (else refused).

    A non-member gets :class:`filon.errors.NotFound`, as for any case they cannot open; a
    member whose membership does not carry ``can_export`` gets :class:`ExportNotAllowed`.
    """
    case, desk = member_case(session, user=user, case_id=case_id)
    allowed = session.scalar(
        select(DeskMembership.can_export).where(
            DeskMembership.desk_id == desk.id, DeskMembership.user_id == user.id
        )
    )
    if not allowed:
        raise ExportNotAllowed("your membership of this desk does not allow exports")
    return case, desk


def case_files(session: Session, case: Case) -> list[tuple[Submission, Evidence]]:
    """Every file linked to a case: its submissions' files, then its evidence links."""
    from_submissions = session.execute(
        select(Submission, Evidence)
        .join(CaseSubmission, CaseSubmission.submission_id == Submission.id)
        .join(Evidence, Evidence.submission_id == Submission.id)
        .where(CaseSubmission.case_id == case.id)
        .order_by(Submission.received_hour, Submission.id, Evidence.id)
    ).all()
    from_links = session.execute(
        select(Submission, Evidence)
        .join(Evidence, Evidence.submission_id == Submission.id)
        .join(CaseEvidence, CaseEvidence.evidence_id == Evidence.id)
        .where(CaseEvidence.case_id == case.id)
        .order_by(CaseEvidence.id)
    ).all()
    found: dict[int, tuple[Submission, Evidence]] = {}
    for submission, evidence in [*from_submissions, *from_links]:
        found.setdefault(evidence.id, (submission, evidence))
    return list(found.values())


def plan_export(
    session: Session,
    *,
    user: User,
    user_key: BoxKeyPair,
    case_id: int,
    options: ExportOptions,
) -> ExportPlan:
    """Check the export is allowed and possible, and read everything it needs."""
    case, desk = check_can_export(session, user=user, case_id=case_id)
    desk_key = open_desk_key(session, desk=desk, user=user, user_key=user_key)
    files = case_files(session, case)
    known = {evidence.id for _submission, evidence in files}
    if options.evidence is not None:
        unknown = sorted(options.evidence - known)
        if unknown:
            raise ExportRefused(f"files not linked to this case: {', '.join(map(str, unknown))}")
        files = [(s, e) for s, e in files if e.id in options.evidence]
    if not files:
        raise ExportRefused("choose at least one evidence file")
    documents = _Documents(session, desk_key)
    _refuse_not_cleaned(files, documents, options)
    planned = [
        _plan_file(index, submission, evidence, documents, options)
        for index, (submission, evidence) in enumerate(files)
    ]
    submissions = _case_submissions(session, case, [s for s, _e in files])
    assignee = session.get(User, case.assignee_id) if case.assignee_id else None
    places = _places(session, case, desk, planned, options, left_out=known)
    return ExportPlan(
        case={
            "id": case.id,
            "desk": desk.slug,
            "title": case.title,
            "status": str(case.status),
            "priority": str(case.priority),
            "assignee": assignee.username if assignee else None,
            "minerals": list(case.minerals),
            "risk_categories": list(case.risk_categories),
            "tags": list(case.tags),
            "summary": case.summary,
            "merged_into": merged_into(session, case),
        },
        desk_slug=desk.slug,
        desk_name=desk.name,
        user=user.username,
        options=options,
        files=planned,
        submissions=[_plan_submission(s, documents, options) for s in submissions],
        timeline=case_timeline(session, desk, case),
        places=places,
    )


def _places(
    session: Session,
    case: Case,
    desk: Desk,
    planned: list[PlannedFile],
    options: ExportOptions,
    *,
    left_out: set[int],
) -> geodata.PlaceData:
    """The case's places and chain links, from the files chosen for this dossier.

    A geotag of a file left out stays out with it, and a chain link is listed only when a
    chosen file (or the case itself) supports it, with those files' paths in the dossier.
    """
    chosen = [f.evidence_id for f in planned]
    cases = geodata.case_ids(session, case.id)
    scope = geodata.case_scope(
        session,
        desk_id=desk.id,
        case_id=case.id,
        evidence_ids=chosen,
        left_out=left_out - set(chosen),
    )
    return geodata.place_data(
        session,
        scope,
        decimals=options.location_precision,  # None: no geotag at all
        evidence_of=geodata.EvidenceOf(
            desk_id=desk.id,
            evidence_ids=chosen,
            case_ids=cases,
            paths={f.evidence_id: f.path for f in planned},
        ),
    )


@dataclass(frozen=True)
class Choice:
    """A file the export form offers, named without opening anything sealed."""

    evidence_id: int
    reference: str
    number: int
    kind: str
    cleaning_status: CleaningStatus
    size: int


def export_choices(session: Session, *, user: User, case_id: int) -> tuple[Case, list[Choice]]:
    """The case and its files, for the export form (only plaintext columns are read)."""
    case, _desk = check_can_export(session, user=user, case_id=case_id)
    numbers = _Documents(session, desk_key=None)
    return case, [
        Choice(
            evidence_id=evidence.id,
            reference=submission.reference,
            number=numbers.number(submission, evidence),
            kind=evidence.kind,
            cleaning_status=evidence.cleaning_status,
            size=plaintext_size(evidence.ciphertext_size),
        )
        for submission, evidence in case_files(session, case)
    ]


class _Documents:
    """Sealed submission documents, each opened once with the desk key."""

    def __init__(self, session: Session, desk_key: BoxKeyPair | None) -> None:
        self.session = session
        self.desk_key = desk_key
        self._opened: dict[int, dict[str, Any]] = {}
        self._numbers: dict[int, list[int]] = {}

    def of(self, submission: Submission) -> dict[str, Any]:
        if submission.id not in self._opened:
            opened = json.loads(self.open(submission.sealed_metadata))
            self._opened[submission.id] = opened if isinstance(opened, dict) else {}
        return self._opened[submission.id]

    def number(self, submission: Submission, evidence: Evidence) -> int:
        """The file's number in its submission (1-based), as the submission page shows it."""
        if submission.id not in self._numbers:
            self._numbers[submission.id] = list(
                self.session.scalars(
                    select(Evidence.id)
                    .where(Evidence.submission_id == submission.id)
                    .order_by(Evidence.id)
                )
            )
        return self._numbers[submission.id].index(evidence.id) + 1

    def open(self, sealed: bytes) -> bytes:
        """Open something sealed to the desk."""
        if self.desk_key is None:
            raise ExportNotAllowed("opening a submission needs the desk key")
        return open_sealed(sealed, self.desk_key)

    def custody(self, submission: Submission) -> list[dict[str, Any]]:
        """The submission's custody events, after checking the chain holds."""
        subject = f"submission:{submission.reference}"
        try:
            return [event_record(e) for e in chain(self.session, subject)]
        except CustodyChainBroken as exc:
            raise ExportRefused(f"{submission.reference}: custody chain broken: {exc}") from exc

    def report(self, submission: Submission, evidence: Evidence) -> dict[str, Any]:
        reports = self.of(submission).get("files", [])
        number = self.number(submission, evidence)
        report = reports[number - 1] if number <= len(reports) else {}
        return report if isinstance(report, dict) else {}


def _refuse_not_cleaned(
    files: list[tuple[Submission, Evidence]], documents: _Documents, options: ExportOptions
) -> None:
    if options.include_not_cleaned:
        return
    flagged = [
        f"{s.reference} file {documents.number(s, e)}"
        + (f" ({name})" if (name := documents.report(s, e).get("name")) else "")
        for s, e in files
        if e.cleaning_status is CleaningStatus.NOT_CLEANED
    ]
    if flagged:
        raise NotCleanedRefused(
            "these files were not cleaned of metadata and may identify their source; confirm "
            "to include them, or leave them out: " + "; ".join(flagged)
        )


def _plan_file(
    index: int,
    submission: Submission,
    evidence: Evidence,
    documents: _Documents,
    options: ExportOptions,
) -> PlannedFile:
    report = documents.report(submission, evidence)
    number = documents.number(submission, evidence)
    name = str(report.get("name", ""))
    # A cleaned copy's hash is kept apart from the received file's; a file stored as
    # received has only the latter.
    recorded = report.get("cleaned_sha256", report.get("sha256"))
    custody = documents.custody(submission)
    return PlannedFile(
        evidence_id=evidence.id,
        path="evidence/" + safe_filename(name, index, report.get("extension")),
        reference=submission.reference,
        number=number,
        name=name,
        kind=evidence.kind,
        cleaning_status=evidence.cleaning_status,
        blob_id=evidence.blob_id,
        ciphertext_size=evidence.ciphertext_size,
        file_key=documents.open(evidence.sealed_file_key),
        sha256=recorded if isinstance(recorded, str) and len(recorded) == 64 else None,
        size=plaintext_size(evidence.ciphertext_size),
        original_sha256=report.get("sha256") if isinstance(report.get("sha256"), str) else None,
        location=_location(report.get("location"), options.location_precision),
        custody=custody,
    )


def plaintext_size(stream_size: int) -> int:
    """The plaintext size of a ``filon-stream/1`` stream of ``stream_size`` bytes.

    Every chunk but the last holds exactly 1 MiB and the last is always there (possibly
    empty), so the chunk count is the body's size divided by a full chunk's, rounded up.
    """
    body = stream_size - PREFIX_SIZE
    chunks = -(-body // CIPHER_CHUNK_SIZE)
    return body - (CIPHER_CHUNK_SIZE - CHUNK_SIZE) * chunks


def _location(value: object, precision: int | None) -> tuple[float, float] | None:
    """A consented location coarsened to ``precision`` decimal places (or left out)."""
    if precision is None or not isinstance(value, list | tuple) or len(value) != 2:
        return None
    lat, lon = value
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        return None
    return round(float(lat), precision), round(float(lon), precision)


def _case_submissions(session: Session, case: Case, also: Iterable[Submission]) -> list[Submission]:
    linked = session.scalars(
        select(Submission)
        .join(CaseSubmission, CaseSubmission.submission_id == Submission.id)
        .where(CaseSubmission.case_id == case.id)
        .order_by(Submission.received_hour, Submission.id)
    )
    found = {s.id: s for s in [*linked, *also]}
    return sorted(found.values(), key=lambda s: (s.received_hour, s.id))


def _plan_submission(
    submission: Submission, documents: _Documents, options: ExportOptions
) -> PlannedSubmission:
    document = documents.of(submission)
    answers: dict[str, str] = {}
    if options.include_answers:
        for name, value in dict(document.get("answers", {})).items():
            answers[str(name)] = REDACTED if name in options.redact else str(value)
    custody = documents.custody(submission)
    return PlannedSubmission(
        reference=submission.reference,
        received_hour=submission.received_hour,
        lang=str(document.get("lang", "")),
        answers=answers,
        custody=custody,
    )


# -- 2. the dossier -------------------------------------------------------------------------------


def build_dossier(
    plan: ExportPlan,
    *,
    store: BlobStore,
    signing_key: SigningKeyPair,
    ports: CaseworkPorts | None = None,
    now: dt.datetime | None = None,
) -> Dossier:
    """Draw the report, write the manifest and sign it; nothing has streamed yet."""
    from casework.dossier.report import render_report  # noqa: PLC0415 - fpdf2 loads only here

    hashes = {f.evidence_id: f.sha256 or _hash_blob(store, f) for f in plan.files}
    thumbnails = _thumbnails(plan, store, ports) if ports is not None else {}
    fp = fingerprint(signing_key.public)
    report = render_report(plan, hashes=hashes, thumbnails=thumbnails, fingerprint=fp)
    entries = [
        Entry(path=f.path, size=f.size, sha256=hashes[f.evidence_id], planned=f) for f in plan.files
    ]
    for path, data in [
        ("data/sites.geojson", plan.places.sites_geojson()),
        ("data/geotags.geojson", plan.places.geotags_geojson()),
        ("data/chain_links.csv", plan.places.chain_links_csv()),
        ("report.pdf", report),
        ("verify.py", VERIFY_SOURCE.read_bytes()),
        ("README.txt", readme(fp).encode("utf-8")),
    ]:
        entries.append(Entry(path, len(data), hashlib.sha256(data).hexdigest(), data=data))
    manifest = manifest_bytes(plan, entries, signing_key=signing_key, now=now)
    return Dossier(manifest, sign_detached(manifest, signing_key), entries, store)


def manifest_bytes(
    plan: ExportPlan,
    entries: list[Entry],
    *,
    signing_key: SigningKeyPair,
    now: dt.datetime | None = None,
) -> bytes:
    """The manifest of DESIGN.md §8, as the exact UTF-8 bytes that are signed."""
    files = []
    for entry in entries:
        planned = entry.planned
        listed: dict[str, Any] = {"path": entry.path, "sha256": entry.sha256, "size": entry.size}
        if planned is not None:
            # Only evidence was received and cleaned: the files made at export (report, data,
            # verify.py, README) carry no such fields rather than a ``cleaned`` that is no bool.
            listed.update(
                cleaned=planned.cleaned,
                original_sha256=planned.original_sha256,
                custody=planned.custody,
            )
        files.append(listed)
    manifest = {
        "format": FORMAT,
        "case": plan.case,
        "exported_at": format_time(now or utc_now()),
        "exported_by": plan.user,
        "signing_key": b64encode(signing_key.public),
        "signing_key_fingerprint": fingerprint(signing_key.public),
        "files": files,
        **plan.places.manifest_lists(),
    }
    return (canonical_json(manifest) + "\n").encode("utf-8")


def readme(fp: str) -> str:
    """README.txt: the signing key's fingerprint and how to check the dossier."""
    return (
        "Filon evidence dossier (format filon-dossier/1)\n"
        "================================================\n\n"
        "This ZIP holds a case report (report.pdf), the cleaned evidence files (evidence/),\n"
        "data about places and supply chains (data/), and manifest.json, which lists every\n"
        "file with its SHA-256 and size. manifest.sig is an Ed25519 signature over the exact\n"
        "bytes of manifest.json, made with the organisation's signing key, whose fingerprint\n"
        "is:\n\n"
        f"    {format_fingerprint(fp)}\n\n"
        "Compare it with the fingerprint the organisation publishes, or read it aloud with\n"
        "them on the phone. Then check the dossier, with Python 3 and PyNaCl\n"
        "(pip install pynacl), by running the verifier included here:\n\n"
        f"    python verify.py dossier.zip --fingerprint {fp}\n\n"
        "or, where Filon is installed:\n\n"
        f"    filon verify dossier.zip --fingerprint {fp}\n\n"
        "Both exit with status 0 only if the signature holds, every listed file is present\n"
        "with its hash and size, and no unlisted file is present; otherwise they name each\n"
        "problem and exit with status 1.\n"
    )


def _hash_blob(store: BlobStore, planned: PlannedFile) -> str:
    """A file's SHA-256 when its record did not keep one: one extra decrypting pass."""
    digest = hashlib.sha256()
    for chunk in store.reader(
        planned.blob_id, planned.file_key, expected_size=planned.ciphertext_size
    ):
        digest.update(chunk)
    return digest.hexdigest()


def _thumbnails(plan: ExportPlan, store: BlobStore, ports: CaseworkPorts) -> dict[int, bytes]:
    """Small JPEG/PNG previews of the image files, drawn in the intake's sandbox.

    No parser of a source's file runs in this process (DESIGN.md §2); a picture the worker
    refuses, or one too large to hold, simply has no thumbnail.
    """
    limits = ports.limits
    found: dict[int, bytes] = {}
    for planned in plan.files:
        if planned.kind != "image" or planned.size > limits.preview_max_bytes:
            continue
        plaintext = bytearray()
        for chunk in store.reader(
            planned.blob_id, planned.file_key, expected_size=planned.ciphertext_size
        ):
            plaintext += chunk
        try:
            media_type, data = ports.render_preview(
                bytes(plaintext), max_side=limits.preview_max_side
            )
        except WorkerFailed:
            continue
        finally:
            plaintext[:] = b""
        if is_preview(media_type, data):  # never trust the other side of a port
            found[planned.evidence_id] = data
    return found


# -- 3. auditing and writing ----------------------------------------------------------------------


def record_export(session: Session, *, user: User, plan: ExportPlan, dossier: Dossier) -> None:
    """Record the export on the desk's audit trail, in the caller's transaction.

    The manifest's SHA-256 ties the trail to the exact dossier that left: whoever holds a
    copy can show which export it was.
    """
    case, desk = check_can_export(session, user=user, case_id=int(plan.case["id"]))
    audit.record_audit(
        session,
        desk=desk,
        user=user,
        action=EXPORTED,
        details={
            "case": case.id,
            # By receipt and number only: a file's name is the source's, and the trail is
            # plaintext at rest.
            "files": [{"submission": f.reference, "file": f.number} for f in plan.files],
            "manifest_sha256": dossier.manifest_sha256,
        },
    )


def export_case(
    sessions: sessionmaker[Session],
    out: BinaryIO,
    *,
    store: BlobStore,
    signing_key: SigningKeyPair,
    user: User,
    user_key: BoxKeyPair,
    case_id: int,
    options: ExportOptions,
    ports: CaseworkPorts | None = None,
) -> Dossier:
    """Plan, build, audit and write a dossier to ``out``; returns it (for its manifest)."""
    with transaction(sessions) as session:
        plan = plan_export(session, user=user, user_key=user_key, case_id=case_id, options=options)
    dossier = build_dossier(plan, store=store, signing_key=signing_key, ports=ports)
    with transaction(sessions) as session:
        record_export(session, user=session.merge(user), plan=plan, dossier=dossier)
    for chunk in dossier.chunks():
        out.write(chunk)
    return dossier
