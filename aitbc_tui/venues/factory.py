"""Build the venues a config asks for.

No venue configured: the built-in sandbox venues (``aitbc_tui.venues.sim``). Configured:
a ``CcxtVenue`` per venue, wrapped in a ``PaperVenue`` in paper mode. ccxt is imported
only when a ccxt venue is built; this module imports neither ccxt nor the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aitbc_tui.config import Config, ConfigError, VenueConfig
from aitbc_tui.domain import Mode
from aitbc_tui.venues.base import Venue


def _credential_source(credentials: Any) -> Any:
    """A store with ``.get(venue)``: the one given, a mapping wrapped, or the default store."""
    if credentials is None:
        try:
            from aitbc_tui.credentials import CredentialStore
        except ImportError:  # pragma: no cover - the store ships with the package
            return None
        return CredentialStore.open()
    if isinstance(credentials, Mapping):
        return _MappingStore(credentials)
    return credentials


class _MappingStore:
    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self._mapping = mapping

    def get(self, venue: str) -> Any:
        return self._mapping.get(venue)


def _keys_for(venue: VenueConfig, store: Any, config: Config) -> Any:
    if venue.mode is Mode.PAPER:
        return None
    try:
        found = store.get(venue.name) if store is not None else None
    except Exception as exc:  # CredentialError, VaultError, KeyringUnavailable: readable already
        raise ConfigError(
            config.path, f"venues.{venue.name}.mode", f"{venue.mode.value} mode cannot read API keys: {exc}"
        ) from exc
    if found is None and venue.mode is Mode.LIVE:
        raise ConfigError(
            config.path,
            f"venues.{venue.name}.mode",
            f"live mode needs API keys and the credential store has none for {venue.name!r}; "
            f'store them with `aitbc-tui keys set {venue.name}`, or use mode = "paper" to practise',
        )
    return found


def build_ccxt_venue(venue: VenueConfig, config: Config, credentials: Any = None, **venue_options: Any) -> Venue:
    """One configured venue: ``credentials`` is a Credentials (or None for public data only)."""
    from aitbc_tui.venues.ccxt_venue import CcxtVenue
    from aitbc_tui.venues.paper import PaperVenue

    try:
        inner = CcxtVenue(venue, credentials=credentials if venue.mode is not Mode.PAPER else None, **venue_options)
    except ConfigError as exc:
        raise ConfigError(config.path, exc.key, exc.problem) from None
    return PaperVenue(inner) if venue.mode is Mode.PAPER else inner


def build_venues(
    config: Config,
    *,
    seed: int | None = None,
    reset_sandbox: bool = False,
    credentials: Any = None,
) -> list[Venue]:
    """The venues to run. ``credentials``: a store with ``.get(venue) -> Credentials | None``
    or a mapping venue -> Credentials; None opens the default credential store, and only
    when a testnet or live venue is configured."""
    if config.is_sandbox:
        from aitbc_tui.venues import sim

        # The venues own the world's lifecycle.
        _world, sandbox_venues = sim.create_sandbox_venues(seed=seed, reset=reset_sandbox)
        return list(sandbox_venues)
    needs_keys = any(v.mode not in (Mode.PAPER, Mode.FEED) for v in config.venues)
    store = None
    if needs_keys:
        try:
            store = _credential_source(credentials)
        except Exception as exc:  # opening the store failed (no keyring, vault refused)
            live = next(v for v in config.venues if v.mode not in (Mode.PAPER, Mode.FEED))
            if live.mode is Mode.LIVE:
                raise ConfigError(
                    config.path, f"venues.{live.name}.mode", f"live mode cannot open the credential store: {exc}"
                ) from exc
    venues: list[Venue] = []
    try:
        for venue in config.venues:
            if venue.mode is not Mode.FEED:
                venues.append(build_ccxt_venue(venue, config, _keys_for(venue, store, config)))
        venues = _with_feed_venues(config, venues)
    except BaseException:
        # Nothing has started yet, but ccxt clients own sessions once used: drop them.
        venues.clear()
        raise
    return venues


async def authenticated_probe(venue_name: str, credentials: Any, config: Config) -> float:
    """``keys test``: latency in ms of one authenticated request (fetch_balance) with
    ``credentials`` (a Credentials) against the configured venue ``venue_name``."""
    venue = config.venue(venue_name)
    if venue is None:
        configured = ", ".join(v.name for v in config.venues) or "none (sandbox mode)"
        raise ConfigError(config.path, f"venues.{venue_name}", f"no such venue; configured venues: {configured}")
    from dataclasses import replace

    from aitbc_tui.venues.ccxt_venue import CcxtVenue

    # Paper venues have no account: test the keys as live would use them (read-only call).
    probe_config = replace(venue, mode=Mode.LIVE) if venue.mode is Mode.PAPER else venue
    try:
        client = CcxtVenue(probe_config, credentials=credentials)
    except ConfigError as exc:
        raise ConfigError(config.path, exc.key, exc.problem) from None
    try:
        return await client.authenticated_ping()
    finally:
        await client.close()


def _with_feed_venues(config: Config, built: list[Venue]) -> list[Venue]:
    """Desk feed venues (``mode = "feed"``, aitbc_tui.desk) in their config order; a venue a
    feed venue trades on runs inside it, not on its own."""
    if not any(v.mode is Mode.FEED for v in config.venues):
        return built
    from aitbc_tui.desk.feed_venue import feed_venues_for

    return feed_venues_for(config, built)


__all__ = ["authenticated_probe", "build_ccxt_venue", "build_venues"]
