"""The public surface: what ``rxxenon`` exports is exactly its curated ``__all__``."""

from __future__ import annotations

import rxxenon


def test_all_is_complete() -> None:
    # (Its order is checked by ruff's RUF022.)
    public = {name for name in vars(rxxenon) if not name.startswith("_")} - {
        "operators",  # submodules
        "server",
        "xenon_grpc",
    }
    assert set(rxxenon.__all__) - {"__version__"} == public
    assert len(rxxenon.__all__) == len(set(rxxenon.__all__))


def test_no_generated_message_leaks_into_the_api() -> None:
    for name in rxxenon.__all__:
        module = getattr(getattr(rxxenon, name), "__module__", "rxxenon")
        assert not module.startswith("rxxenon._proto"), name
