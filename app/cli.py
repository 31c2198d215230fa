"""The `epu` command: serve the gateway, print development tokens."""

from __future__ import annotations

import argparse
import sys

from app.config import get_settings


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

    arguments = parser.parse_args(argv)
    if arguments.command == "serve":
        return _serve(arguments)
    return _token(arguments)


def _serve(arguments: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        log_level=arguments.log_level,
    )
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
