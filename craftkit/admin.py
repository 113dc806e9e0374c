"""`craftkit`: the operator's console, the way to make projects and manage any project's API keys
without writing gRPC (`python -m craftkit.admin` is the same command).

    craftkit projects create NAME                    -> the project id and its first (full) key
    craftkit keys create --project ID [--name N] [--scope S ...]
                                                     -> one more key (scopes: full, render,
                                                        download; none given: full)
    craftkit keys list --project ID                  -> the project's keys, revoked ones too
    craftkit keys revoke --project ID KEY_ID         -> revokes a key (again: answers it again)
    craftkit token-digest FILE                       -> the servers' line for each token in FILE

Every command but token-digest takes --json (one JSON document on standard output, the REST API's
shapes) and calls the status service at STATUS_ADDRESS as the admin caller: INTERNAL_TOKEN_FILE is
the admin token file (in Kubernetes, key `admin` of Secret craftkit-internal-tokens; `make run`
writes the lines for its dev stack into .craftkit/dev.env) and GRPC_TLS_CA_FILE the CA when the
services speak TLS. Keys are printed once and stored only as hashes. An operator may revoke any
key, a project's last full key too (REST refuses that one: the project would lose key
management). token-digest needs no service: it prints `sha256:<hex>` for each token line of a
caller's token file (`-` reads standard input), what the servers' INTERNAL_TOKENS_DIR holds.

Exit status (one table for every `craftkit` command, craftkit/cli.py's EXIT_CODES): 0 done; 1 the
service refused the request (unknown project or key, bad name or scope); 2 bad usage or a setting
to fix (the message names the variable); 5 the status service could not be reached.

The same console runs the REST commands (templates, render, renders, preview, webhooks) with a
project's API key: craftkit/cli.py has them, this module only adds them to its parser.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grpc

from craftkit import cli, errors, service
from craftkit.config import ConfigError, env_str
from craftkit.internal_auth import ClientSecurity, digest_line, read_tokens, tokens_in
from craftkit.v1 import projects_pb2, projects_pb2_grpc
from services.gateway import views

TIMEOUT = 30
SCOPES = ("full", "render", "download")
REFUSED, SETTINGS, UNREACHABLE = cli.REFUSED, cli.USAGE, cli.UNREACHABLE
HELP = """\
Craftkit from the command line.

REST commands, as a project: its API key from CRAFTKIT_API_URL and
CRAFTKIT_API_KEY, else .craftkit/dev.env (--api-url and --api-key over both):
  templates push DIR [--publish]     a folder (manifest.json, layout.json,
                                     images) as a new version
  templates pull SLUG [--version N]  a version back as a folder
  render SLUG --data FILE|- [--version N] [--wait] [--out FILE.pdf]
  renders list|get|download|cancel   the project's renders
  preview SLUG --version N --data FILE --out FILE.pdf|FILE.png
  webhooks add|list|deliveries       endpoints and their delivery log

Operator commands, for any project: the status service over gRPC
(STATUS_ADDRESS, INTERNAL_TOKEN_FILE with the admin token, GRPC_TLS_CA_FILE):
  projects create NAME               a project and its first (full) API key
  keys create|list|revoke --project ID
  token-digest FILE                  the servers' line for each token in FILE

Every command but token-digest takes --json: one JSON document on standard
output. `craftkit COMMAND --help` says more."""


class Unreachable(Exception):
    """The status service did not answer (down, wrong address, or TLS that does not match)."""


def key_table(keys: list[dict]) -> str:
    """Keys as aligned columns for a terminal."""
    header = ("ID", "PREFIX", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED")
    rows = [header] + [(k["id"], k["prefix"], cli.printable(k["name"]) or "-",
                        ",".join(k["scopes"]), k["createdAt"], k["lastUsedAt"] or "never",
                        k["revokedAt"] or "-")
                       for k in keys]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)


def create_project(stub: projects_pb2_grpc.ProjectServiceStub, args) -> tuple[dict, str]:
    made = stub.CreateProject(projects_pb2.CreateProjectRequest(name=args.name), timeout=TIMEOUT)
    result = {"projectId": made.project.id, "apiKey": made.api_key, "keyId": made.key.id}
    return result, (f"project id: {made.project.id}\napi key:    {made.api_key}\n"
                    "(the key is shown only now; its scope is full)")


def create_key(stub: projects_pb2_grpc.ProjectServiceStub, args) -> tuple[dict, str]:
    made = stub.CreateApiKey(projects_pb2.CreateApiKeyRequest(
        project_id=args.project, name=args.name, scopes=args.scope or []), timeout=TIMEOUT)
    result = views.api_key(made.key, made.api_key)
    return result, (f"key id:  {made.key.id}\nscopes:  {', '.join(made.key.scopes)}\n"
                    f"api key: {made.api_key}\n(the key is shown only now)")


def list_keys(stub: projects_pb2_grpc.ProjectServiceStub, args) -> tuple[dict, str]:
    keys, cursor = [], ""
    while True:
        page = stub.ListApiKeys(projects_pb2.ListApiKeysRequest(
            project_id=args.project, cursor=cursor), timeout=TIMEOUT)
        keys += [views.api_key(k) for k in page.keys]
        if not (cursor := page.next_cursor):
            return {"data": keys}, key_table(keys)


def revoke_key(stub: projects_pb2_grpc.ProjectServiceStub, args) -> tuple[dict, str]:
    key = views.api_key(stub.RevokeApiKey(projects_pb2.RevokeApiKeyRequest(
        project_id=args.project, key_id=args.key_id), timeout=TIMEOUT))
    return key, f"revoked {key['id']} ({key['prefix']}…) at {key['revokedAt']}"


def token_digests(path: str) -> list[str]:
    """The digest line of every token in a caller's token file (`-`: standard input), in order,
    checked as a caller's file is (ConfigError for a short token or a digest)."""
    if path == "-":
        return [digest_line(t) for t in tokens_in(sys.stdin.read(), "standard input")]
    try:
        return [digest_line(t) for t in read_tokens(Path(path))]
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None


def call_status(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command against the status service; grpc errors become what to fix."""
    address, security = env_str("STATUS_ADDRESS", "127.0.0.1:7051"), ClientSecurity.from_env()
    try:
        channel = service.blocking_channel(address, security)
    except SystemExit as exc:  # service.py reads GRPC_TLS_CA_FILE as a server does, exiting
        raise ConfigError(str(exc)) from None
    with channel:
        try:
            return args.run(projects_pb2_grpc.ProjectServiceStub(channel), args)
        except grpc.RpcError as exc:
            raise explain(exc, address, security) from None


def explain(exc: grpc.RpcError, address: str, security: ClientSecurity) -> Exception:
    """What the operator should fix for a failed call: the setting to change, or the request."""
    code, message = exc.code(), errors.from_rpc_error(exc).message
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        tls = (f"; GRPC_TLS_CA_FILE={security.tls_ca_file} must be the CA of its certificate"
               if security.tls_ca_file else "; set GRPC_TLS_CA_FILE if it speaks TLS")
        return Unreachable(f"the status service at STATUS_ADDRESS={address} does not answer "
                           f"({errors.cut(exc.details() or code.name)}): check the address and "
                           f"that it runs{tls}")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return ConfigError(f"the status service refused the token of INTERNAL_TOKEN_FILE="
                           f"{security.token_file}: it must be the admin token ({message})")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return ConfigError(f"INTERNAL_TOKEN_FILE={security.token_file} is not the admin token "
                           f"({message})")
    return errors.ApiError(f"{code.name}: {message}")


class Parser(argparse.ArgumentParser):
    """argparse's parser (its subparsers are of the same class), whose usage errors also reach
    a --json reader: `--json` promises one JSON document on standard output, and a script
    piping it to a JSON parser must get one for a bad argument too."""

    json_wanted = False
    """Set by main when the command line holds --json."""

    def error(self, message: str):
        if Parser.json_wanted:
            print(cli.json_text({"error": {"code": "usage", "message": f"{self.prog}: {message}",
                                           "issues": []}}))
        super().error(message)


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="craftkit", usage="craftkit [-h] COMMAND ...",
                                  description=HELP, epilog=cli.EXIT_CODES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    # The commands are listed by HELP, grouped; argparse would list them in one flat group.
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                  help=argparse.SUPPRESS)
    projects = commands.add_parser("projects", help="make projects").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    made = projects.add_parser("create", help="a new project and its first (full) API key")
    made.add_argument("name")
    made.set_defaults(run=create_project)
    keys = commands.add_parser("keys", help="a project's API keys").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    create = keys.add_parser("create", help="one more API key for a project")
    create.add_argument("--name", default="", help="a label to recognise the key by")
    create.add_argument("--scope", action="append", choices=SCOPES,
                        help="full (default), render or download; repeatable")
    create.set_defaults(run=create_key)
    keys.add_parser("list", help="every key of a project, revoked ones too") \
        .set_defaults(run=list_keys)
    revoke = keys.add_parser("revoke", help="revoke a key (refused at once by every gateway "
                             "within KEY_CACHE_SECONDS)")
    revoke.add_argument("key_id", help="the key's id (keys list shows it)")
    revoke.set_defaults(run=revoke_key)
    for command in (made, create, keys.choices["list"], revoke):
        command.add_argument("--json", action="store_true", help="print one JSON document")
    for command in (create, keys.choices["list"], revoke):
        command.add_argument("--project", required=True, metavar="ID", help="the project's id")
    commands.add_parser("token-digest", help="the servers' sha256: line for each token in FILE") \
        .add_argument("file", help="a caller's token file, one token per line; - for stdin")
    cli.add_commands(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    Parser.json_wanted = "--json" in argv
    args = parser().parse_args(argv)
    if getattr(args, "rest", False):
        return cli.run(args)
    try:
        if args.command == "token-digest":
            lines = token_digests(args.file)
            if not lines:
                raise ConfigError(f"{args.file} holds no token")
            print("\n".join(lines))
            return 0
        result, text = call_status(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return SETTINGS
    except Unreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return UNREACHABLE
    except errors.ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return REFUSED
    print(json.dumps(result, indent=2) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
