#!/usr/bin/env bash
# Build the two base images of deploy/docker-compose.yml from Debian's packages alone, for a
# host that reaches Debian's and PyPI's registries but no container registry. Needs root,
# debootstrap and docker. Prints the variables to build and start the compose file with.
set -euo pipefail
cd "$(dirname "$0")"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PYTHON_IMAGE=listener-offline/python:3.11-bookworm
POSTGRES_IMAGE=listener-offline/postgres:15-bookworm
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$ROOT" "$MIRROR" >&2
tar -C "$ROOT" -c . | docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' - "$PYTHON_IMAGE" >&2
docker build -f postgres.Dockerfile --build-arg BASE_IMAGE="$PYTHON_IMAGE" -t "$POSTGRES_IMAGE" . >&2
echo "export BASE_IMAGE=$PYTHON_IMAGE POSTGRES_IMAGE=$POSTGRES_IMAGE"
