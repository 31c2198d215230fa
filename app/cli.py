"""The `epu` command: serve the gateway, print development tokens, import a terminology release."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.config import Settings, get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="epu", description="epu-gateway")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info", choices=["warning", "info", "debug"])

    token = commands.add_parser("token", help="print a token from the local development issuer")
    token.add_argument("--role", required=True, choices=["prescriber", "lab", "admin"])
    token.add_argument("--rpps", help="11-digit RPPS number (prescriber, or a lab's biologist)")
    token.add_argument("--lab", help="the lab's FINESS (9 digits) or SIRET (14 digits)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds of validity")

    scan = commands.add_parser("scan", help="print the EPU ID found in a photo of a QR code")
    scan.add_argument("image", help="a PNG or JPEG file")

    terminology = commands.add_parser("terminology", help="manage the JDV value set")
    actions = terminology.add_subparsers(dest="action", required=True)
    load = actions.add_parser("import", help="load a release and make it the active one")
    load.add_argument(
        "file", type=Path, help="FHIR ValueSet/CodeSystem .json, SVS .xml, .csv, .xlsx"
    )
    load.add_argument("--version", help="the release's version (CSV/XLSX: default the file name)")

    commands.add_parser("migrate", help="bring the database schema to the newest revision")

    purge = commands.add_parser("purge", help="remove closed prescriptions past retention")
    purge.add_argument("--older-than-days", type=int, help="default: EPU_RETENTION_DAYS (90)")
    purge.add_argument("--batch", type=int, default=1000, help="prescriptions per transaction")
    purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    arguments = parser.parse_args(argv)
    if arguments.command == "serve":
        return _serve(arguments)
    if arguments.command == "scan":
        return _scan(arguments)
    if arguments.command == "terminology":
        return terminology_import(get_settings(), arguments.file, arguments.version)
    if arguments.command == "migrate":
        return _migrate()
    if arguments.command == "purge":
        return _purge(arguments)
    return _token(arguments)


def _migrate() -> int:
    from app.store.database import create_database_engine
    from app.store.migrate import migrate

    engine = create_database_engine(get_settings())
    migrate(engine)
    engine.dispose()
    print("epu migrate: schema is at the newest revision")
    return 0


def _purge(arguments: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from app.store.database import create_database_engine
    from app.store.purge import count_due, purge

    settings = get_settings()
    days = (
        settings.retention_days if arguments.older_than_days is None else arguments.older_than_days
    )
    if days < 0 or arguments.batch < 1:
        print("epu purge: --older-than-days >= 0 and --batch >= 1", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    before = now - timedelta(days=days)
    engine = create_database_engine(settings)
    try:
        if arguments.dry_run:
            print(f"epu purge (dry run): {count_due(engine, before, now)} prescriptions "
                  f"closed and last updated before {before:%Y-%m-%d %H:%M} UTC would go")  # fmt: skip
            return 0
        print(f"epu purge: {purge(engine, before, now, arguments.batch)}")
    finally:
        engine.dispose()
    return 0


def _serve(arguments: argparse.Namespace) -> int:
    from app.worker_processes import serve

    return serve(arguments.host, arguments.port, arguments.workers, arguments.log_level)


def _token(arguments: argparse.Namespace) -> int:
    from app.domain.errors import GatewayError
    from app.security.local_issuer import issue_token
    from app.security.tokens import caller_from_claims

    settings = get_settings()
    if not settings.uses_local_issuer:
        print(
            "epu token: the gateway is configured for an external issuer (EPU_AUTH_JWKS_URL); "
            "get tokens from that issuer.",
            file=sys.stderr,
        )
        return 2
    try:
        caller_from_claims(
            {"role": arguments.role, "rpps": arguments.rpps, "lab": arguments.lab, "sub": "-"}
        )
    except GatewayError as refused:
        print(f"epu token: {refused}", file=sys.stderr)
        return 2
    print(issue_token(settings, arguments.role, arguments.rpps, arguments.lab, arguments.ttl))
    return 0


def _scan(arguments: argparse.Namespace) -> int:
    from app.domain.errors import GatewayError
    from app.qr.decode import find_qr_texts
    from app.qr.scanned_text import epu_from_qr_texts

    try:
        image = Path(arguments.image).read_bytes()
    except OSError as exc:
        print(f"epu scan: cannot read {arguments.image}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        epu = epu_from_qr_texts(find_qr_texts(image))
    except GatewayError as refused:
        print(f"epu scan: {refused}", file=sys.stderr)
        return 1
    print(epu)
    return 0


def terminology_import(settings: Settings, path: Path, version: str | None = None) -> int:
    """`epu terminology import FILE`: 0 when the release is active, 1 when it was refused."""
    from app.store.database import create_database_engine
    from app.store.migrate import migrate
    from app.store.terminology_releases import VersionConflict
    from app.terminology.importing import ReleaseRefused, describe_rejections, import_file
    from app.terminology.release import ReleaseFormatError

    engine = create_database_engine(settings)
    try:
        migrate(engine)
        report = import_file(engine, path, version)
    except ReleaseRefused as refused:
        print("\n".join(describe_rejections(refused.rejected)), file=sys.stderr)
        print(f"epu terminology import: {path.name}: {refused}", file=sys.stderr)
        return 1
    except (ReleaseFormatError, VersionConflict, OSError) as refused:
        print(f"epu terminology import: {path.name}: {refused}; the active release is kept",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        engine.dispose()
    print(f"{path.name}:")
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
