"""Alert rules created at runtime (the `!` form, `aitbc-tui alerts add`), and which rules
are paused: ``alerts.sqlite3`` in the data dir (schema ``PRAGMA user_version`` 1). Rules
from the config's ``[alerts]`` stay in the config: they can be paused here, not removed.
Each rule is stored as its config table (JSON), parsed with the same strict parser."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from aitbc_tui import paths
from aitbc_tui.alerts import Rule, RuleError, parse_rule
from aitbc_tui.errors import UserError

ALERTS_FILENAME = "alerts.sqlite3"
SCHEMA_VERSION = 1


class AlertStoreError(UserError):
    """One line: what is wrong with the store or the request."""


def default_alerts_path() -> Path:
    return paths.data_dir() / ALERTS_FILENAME


class AlertStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_alerts_path()
        try:
            paths.ensure_private_dir(self.path.parent)
            self._db = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise AlertStoreError(
                    f"{self.path}: schema version {version} is newer than this aitbc-tui ({SCHEMA_VERSION})"
                )
            self._db.executescript(
                "CREATE TABLE IF NOT EXISTS rules (id TEXT PRIMARY KEY, spec TEXT NOT NULL, created_at REAL NOT NULL);"
                "CREATE TABLE IF NOT EXISTS paused (id TEXT PRIMARY KEY);"
                f"PRAGMA user_version={SCHEMA_VERSION};"
            )
            self._db.commit()
            self.path.chmod(0o600)
        except sqlite3.Error as exc:
            raise AlertStoreError(f"{self.path}: cannot open the alert rules: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def runtime_rules(self) -> list[Rule]:
        rules = []
        for rule_id, spec in self._db.execute("SELECT id, spec FROM rules ORDER BY created_at, id"):
            try:
                rules.append(parse_rule(json.loads(spec), default_id=rule_id, source="runtime"))
            except (RuleError, ValueError):
                continue  # a rule this version cannot read is skipped, not fatal
        return rules

    def paused_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT id FROM paused")}

    def all_rules(self, config_rules: Iterable[Rule] = ()) -> list[Rule]:
        """Config rules, then runtime rules, with the paused flags applied."""
        paused = self.paused_ids()
        rules = list(config_rules) + self.runtime_rules()
        return [replace(r, paused=r.id in paused) for r in rules]

    def _next_id(self, taken: set[str]) -> str:
        n = 1
        while f"r{n}" in taken:
            n += 1
        return f"r{n}"

    def add(self, table: dict, config_rules: Iterable[Rule] = ()) -> Rule:
        """Validate ``table`` strictly, give it an id (r1, r2, ...) unless it has one, store it."""
        taken = {r.id for r in self.all_rules(config_rules)}
        table = {k: v for k, v in table.items() if v not in (None, "")}
        rule_id = table.get("id") or self._next_id(taken)
        try:
            rule = parse_rule({**table, "id": rule_id}, source="runtime")
        except RuleError as exc:
            raise AlertStoreError(str(exc)) from None
        if rule.id in taken:
            raise AlertStoreError(f"id: {rule.id!r} is used by another rule")
        with self._db:
            self._db.execute("INSERT INTO rules(id, spec, created_at) VALUES (?, ?, ?)",
                             (rule.id, json.dumps(rule.as_table()), time.time()))  # fmt: skip
        return rule

    def remove(self, rule_id: str, config_rules: Iterable[Rule] = ()) -> None:
        if any(r.id == rule_id for r in config_rules):
            raise AlertStoreError(f"{rule_id!r} is defined in the config's [alerts]: remove it there (or pause it)")
        with self._db:
            gone = self._db.execute("DELETE FROM rules WHERE id = ?", (rule_id,)).rowcount
            self._db.execute("DELETE FROM paused WHERE id = ?", (rule_id,))
        if not gone:
            raise AlertStoreError(f"no alert rule {rule_id!r}; `aitbc-tui alerts list` shows them")

    def set_paused(self, rule_id: str, paused: bool, config_rules: Iterable[Rule] = ()) -> None:
        if rule_id not in {r.id for r in self.all_rules(config_rules)}:
            raise AlertStoreError(f"no alert rule {rule_id!r}; `aitbc-tui alerts list` shows them")
        with self._db:
            if paused:
                self._db.execute("INSERT OR IGNORE INTO paused(id) VALUES (?)", (rule_id,))
            else:
                self._db.execute("DELETE FROM paused WHERE id = ?", (rule_id,))
