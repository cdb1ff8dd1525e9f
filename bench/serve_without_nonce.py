"""`jianfu serve` without the nonce memory: the baseline that bench/run_all.py measures the nonce check against.

Bench only, never a setting: the callbacks get no nonce, so the dedupe step looks up the MsgId alone and
stores the reply with no nonce, as Jianfu did before issue 15. Everything else is the working tree's code.

    python bench/serve_without_nonce.py serve --config config.toml --port 8081
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bot.chat.callback as callback  # noqa: E402
from bot.cli import main  # noqa: E402


def _no_nonce(channel: object, request: object) -> None:
    return None


callback._nonce_key = _no_nonce  # type: ignore[assignment]

if __name__ == "__main__":
    raise SystemExit(main())
