"""Run one emulator in the foreground: ``python -m listener.emulators KIND [--seed FILE]
[--port N]``. Without ``--seed`` the shipped sample corpus is served. Adding a kind is one line
in ``KINDS`` (a factory taking the seed path or None and the port)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from listener.emulators.base import Emulator
from listener.emulators.corpus import sample_path


def _twitter(seed: str | None, port: int) -> Emulator:
    from listener.emulators.twitter import TwitterEmulator

    return TwitterEmulator.from_jsonl(seed or sample_path("twitter.jsonl"), port=port)


def _reddit(seed: str | None, port: int) -> Emulator:
    from listener.emulators.reddit import RedditEmulator

    return RedditEmulator.from_jsonl(seed or sample_path("reddit.jsonl"), port=port)


def _bluesky(seed: str | None, port: int) -> Emulator:
    from listener.emulators.bluesky import BlueskyEmulator

    return BlueskyEmulator.from_jsonl(seed or sample_path("bluesky.jsonl"), port=port)


def _mastodon(seed: str | None, port: int) -> Emulator:
    from listener.emulators.mastodon import MastodonEmulator

    return MastodonEmulator.from_jsonl(seed or sample_path("mastodon.jsonl"), port=port)


def _slack(_seed: str | None, port: int) -> Emulator:
    from listener.emulators.slack import SlackEmulator

    return SlackEmulator(port=port)


KINDS: dict[str, Callable[[str | None, int], Emulator]] = {
    "twitter": _twitter,
    "reddit": _reddit,
    "slack": _slack,
    "bluesky": _bluesky,
    "mastodon": _mastodon,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m listener.emulators", description=__doc__)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--seed", help="JSONL seed file (default: the sample corpus)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    args = parser.parse_args(argv)
    emulator = KINDS[args.kind](args.seed, args.port).start()
    print(f"{args.kind} emulator on {emulator.base_url} (Ctrl-C stops)", flush=True)
    if hint := getattr(emulator, "login_hint", ""):
        print(hint, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
