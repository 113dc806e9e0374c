"""The operator's console: the only way to create projects and API keys (the gateway may not).

    python -m craftkit.admin create-project NAME   -> the project id and its first API key
    python -m craftkit.admin create-key PROJECT_ID -> one more API key for the project
    python -m craftkit.admin token-digest FILE     -> the servers' line for each token in FILE

The first two call the status service at STATUS_ADDRESS as the admin caller: INTERNAL_TOKEN_FILE
is the admin token file (in Kubernetes, key `admin` of Secret craftkit-internal-tokens) and
GRPC_TLS_CA_FILE the CA when the services speak TLS. Keys are printed once and stored only as
hashes. token-digest needs no service: it prints `sha256:<hex>` for each token line of a caller's
token file (`-` reads standard input), what the servers' INTERNAL_TOKENS_DIR holds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc

from craftkit import errors, service
from craftkit.config import ConfigError, env_str
from craftkit.internal_auth import ClientSecurity, digest_line, read_tokens, tokens_in
from craftkit.v1 import projects_pb2, projects_pb2_grpc


def create_project(stub: projects_pb2_grpc.ProjectServiceStub, name: str) -> str:
    created = stub.CreateProject(projects_pb2.CreateProjectRequest(name=name), timeout=30)
    return f"project id: {created.project.id}\napi key:    {created.api_key}"


def create_key(stub: projects_pb2_grpc.ProjectServiceStub, project_id: str) -> str:
    created = stub.CreateApiKey(projects_pb2.CreateApiKeyRequest(project_id=project_id),
                                timeout=30)
    return f"api key: {created.api_key}"


def token_digests(path: str) -> list[str]:
    """The digest line of every token in a caller's token file (`-`: standard input), in order,
    checked as a caller's file is (ConfigError for a short token or a digest)."""
    if path == "-":
        return [digest_line(t) for t in tokens_in(sys.stdin.read(), "standard input")]
    try:
        return [digest_line(t) for t in read_tokens(Path(path))]
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None


def call_status(args: argparse.Namespace) -> str:
    address, security = env_str("STATUS_ADDRESS", "127.0.0.1:7051"), ClientSecurity.from_env()
    with service.blocking_channel(address, security) as channel:
        stub = projects_pb2_grpc.ProjectServiceStub(channel)
        if args.command == "create-project":
            return create_project(stub, args.name)
        return create_key(stub, args.project_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m craftkit.admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-project", help="a new project and its first API key") \
        .add_argument("name")
    commands.add_parser("create-key", help="one more API key for a project") \
        .add_argument("project_id")
    commands.add_parser("token-digest", help="the servers' sha256: line for each token in FILE") \
        .add_argument("file", help="a caller's token file, one token per line; - for stdin")
    args = parser.parse_args(argv)
    try:
        if args.command == "token-digest":
            lines = token_digests(args.file)
            if not lines:
                raise ConfigError(f"{args.file} holds no token")
            print("\n".join(lines))
        else:
            print(call_status(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        error = errors.from_rpc_error(exc)
        print(f"error: {exc.code().name}: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
