"""Exchange API credentials: the OS keyring when it is a real secure one, otherwise an
encrypted vault file.

Keyring: used only when its backend is Secret Service, macOS Keychain, Windows
Credential Locker (WinVault) or KWallet. The fail and null backends, a chainer with
none of those, and every ``keyrings.alt`` backend (PlaintextKeyring is base64 on
disk) are refused. Entries: service ``aitbc-tui``, username = venue name, password =
a JSON blob; an index entry lists venue names because a keyring cannot enumerate.

Vault: ``data_dir()/vault/credentials.vault``, a JSON header (KDF name, parameters,
salt) and a Fernet token whose key is scrypt(passphrase, salt, n=2**17, r=8, p=1).
The file is 0600 in a 0700 directory, replaced atomically, and refused (with the
reason) when group or others have access to it or its directory, or another user
owns either. There is no plaintext mode.

Nothing here imports textual or ccxt; ``keyring`` and ``cryptography`` are imported
when a store is opened.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import json
import os
import re
import secrets
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aitbc_tui import paths
from aitbc_tui.errors import UserError
from aitbc_tui.secret import Secret

SERVICE = "aitbc-tui"
INDEX_USERNAME = "__aitbc_index__"
PASSPHRASE_ENV = "AITBC_VAULT_PASSPHRASE"

VAULT_FORMAT = "aitbc-tui-vault"
VAULT_VERSION = 1
VAULT_DIRNAME = "vault"
VAULT_FILENAME = "credentials.vault"

SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32

# Exchanges (ccxt ids) whose API keys come with a passphrase.
PASSPHRASE_EXCHANGES = frozenset(
    {"coinbaseexchange", "coinbaseinternational", "kucoin", "kucoinfutures", "okx", "okxus", "bitget", "myokx"}
)

# Fully qualified class names of keyring backends that keep secrets in an OS store
# protected by the user's login. Exact names, not isinstance: a subclass is not vetted.
SECURE_KEYRING_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.macOS.Keyring",
        "keyring.backends.Windows.WinVaultKeyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.kwallet.DBusKeyringKWallet4",
    }
)

_VENUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

StoreChoice = Literal["auto", "keyring", "vault"]
# Called with new=True when a vault is being created (prompt twice), False to unlock.
PassphraseProvider = Callable[[bool], "str | Secret"]


class CredentialError(UserError):
    """A credential store problem; str() is a complete message for the operator."""


class VaultError(CredentialError):
    """The vault cannot be opened, read or written; the message says why."""


class KeyringUnavailable(CredentialError):
    """No secure OS keyring; the message says which backend was found and why it was refused."""


def needs_passphrase(exchange_id: str) -> bool:
    return exchange_id.lower() in PASSPHRASE_EXCHANGES


def validate_venue_name(venue: str) -> str:
    if not _VENUE_RE.match(venue) or venue == INDEX_USERNAME:
        raise CredentialError(f"invalid venue name {venue!r}: use 1-64 letters, digits, '.', '_', ':' or '-'")
    return venue


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """One venue's API credentials. repr never shows a value; masked_key() is for listings."""

    api_key: Secret
    secret: Secret
    passphrase: Secret | None = None
    read_only: bool = False

    def __post_init__(self) -> None:
        for name in ("api_key", "secret", "passphrase"):
            value = getattr(self, name)
            if value is None and name == "passphrase":
                continue
            if isinstance(value, str):
                object.__setattr__(self, name, Secret(value))
            elif not isinstance(value, Secret):
                raise TypeError(f"Credentials.{name} must be a Secret")

    def __repr__(self) -> str:
        passphrase = "None" if self.passphrase is None else repr(self.passphrase)
        return (
            f"Credentials(api_key={self.api_key!r}, secret={self.secret!r}, "
            f"passphrase={passphrase}, read_only={self.read_only})"
        )

    __str__ = __repr__

    def masked_key(self) -> str:
        """The API key as ``abcd…yz``: enough to recognise it, too little to use it."""
        key = self.api_key.reveal()
        if len(key) < 10:
            return "****"
        return f"{key[:4]}…{key[-2:]}"

    # Storage form; only the stores call these.
    def _to_blob(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key.reveal(),
            "secret": self.secret.reveal(),
            "passphrase": None if self.passphrase is None else self.passphrase.reveal(),
            "read_only": self.read_only,
        }

    @classmethod
    def _from_blob(cls, blob: Any, where: str) -> Credentials:
        try:
            passphrase = blob.get("passphrase")
            return cls(
                api_key=Secret(blob["api_key"]),
                secret=Secret(blob["secret"]),
                passphrase=None if passphrase is None else Secret(passphrase),
                read_only=bool(blob.get("read_only", False)),
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise CredentialError(f"malformed credentials entry in {where}") from exc


@dataclass(frozen=True, slots=True)
class CredentialEntry:
    """One row of ``CredentialStore.list()``; unpacks as (venue, store_name, masked_key, read_only)."""

    venue: str
    store_name: str
    masked_key: str
    read_only: bool

    def __iter__(self) -> Iterator[Any]:
        return iter((self.venue, self.store_name, self.masked_key, self.read_only))


# ---- keyring ---------------------------------------------------------------------


def _backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def classify_keyring(backend: Any) -> tuple[Any | None, str]:
    """(secure backend to use, reason). The backend is None when refused; for a chainer
    it is the highest-priority secure child."""
    name = _backend_name(backend)
    if name.startswith("keyrings.alt") or type(backend).__module__.startswith("keyrings.alt"):
        return None, f"{name} (keyrings.alt) keeps secrets in a file without OS protection"
    if name == "keyring.backends.chainer.ChainerBackend":
        children = list(getattr(backend, "backends", []))
        for child in children:
            if _backend_name(child) in SECURE_KEYRING_BACKENDS:
                return child, f"{_backend_name(child)} (via chainer)"
        found = ", ".join(_backend_name(c) for c in children) or "none"
        return None, f"chainer has no secure backend (found: {found})"
    if name == "keyring.backends.fail.Keyring":
        return None, "no OS keyring is available (keyring found only its fail backend)"
    if name == "keyring.backends.null.Keyring":
        return None, "keyring is disabled (null backend)"
    if name in SECURE_KEYRING_BACKENDS:
        return backend, name
    return None, f"{name} is not a known secure OS keyring"


def secure_keyring(backend: Any = None) -> Any:
    """The OS keyring backend if it is a secure one; otherwise KeyringUnavailable."""
    if backend is None:
        try:
            import keyring
        except ImportError as exc:  # pragma: no cover - keyring is a dependency
            raise KeyringUnavailable("the keyring package is not installed") from exc
        try:
            backend = keyring.get_keyring()
        except Exception as exc:  # a broken backend configuration
            raise KeyringUnavailable(f"keyring failed to load a backend: {exc}") from exc
    chosen, reason = classify_keyring(backend)
    if chosen is None:
        raise KeyringUnavailable(f"refusing the OS keyring: {reason}")
    return chosen


class KeyringBackend:
    """Credentials in a secure OS keyring."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.name = "keyring"
        self.description = f"OS keyring ({_backend_name(backend)})"

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            # Messages from keyring backends name the item, never the secret.
            raise CredentialError(f"OS keyring could not {what}: {type(exc).__name__}: {exc}") from None

    def _index(self) -> list[str]:
        raw = self._call("read the venue index", self._backend.get_password, SERVICE, INDEX_USERNAME)
        if not raw:
            return []
        try:
            venues = json.loads(raw)
        except ValueError:
            raise CredentialError("OS keyring: the aitbc-tui venue index entry is corrupt") from None
        return sorted({v for v in venues if isinstance(v, str)})

    def _write_index(self, venues: list[str]) -> None:
        self._call(
            "write the venue index",
            self._backend.set_password,
            SERVICE,
            INDEX_USERNAME,
            json.dumps(sorted(set(venues))),
        )

    def get(self, venue: str) -> Credentials | None:
        raw = self._call(f"read {venue}", self._backend.get_password, SERVICE, venue)
        if raw is None:
            return None
        try:
            blob = json.loads(raw)
        except ValueError:
            raise CredentialError(f"OS keyring entry for {venue} is not aitbc-tui credentials") from None
        return Credentials._from_blob(blob, f"OS keyring entry {SERVICE}/{venue}")

    def set(self, venue: str, credentials: Credentials) -> None:
        self._call(
            f"store {venue}",
            self._backend.set_password,
            SERVICE,
            venue,
            json.dumps(credentials._to_blob()),
        )
        index = self._index()
        if venue not in index:
            self._write_index([*index, venue])

    def delete(self, venue: str) -> bool:
        existed = self.get(venue) is not None
        if existed:
            self._call(f"delete {venue}", self._backend.delete_password, SERVICE, venue)
        index = self._index()
        if venue in index:
            self._write_index([v for v in index if v != venue])
        return existed

    def venues(self) -> list[str]:
        return self._index()


# ---- vault -----------------------------------------------------------------------


def default_vault_path() -> Path:
    return paths.data_dir() / VAULT_DIRNAME / VAULT_FILENAME


def _mode(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"


def _check_private(path: Path, kind: str) -> None:
    """Refuse a file or directory another user owns or group/others can access."""
    st = path.stat()
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is not None and st.st_uid != uid:
        raise VaultError(f"refusing vault {kind} {path}: it is owned by uid {st.st_uid}, not by you (uid {uid})")
    if os.name == "posix" and stat.S_IMODE(st.st_mode) & 0o077:
        wanted = "700" if kind == "directory" else "600"
        raise VaultError(
            f"refusing vault {kind} {path}: group or others have access (mode {_mode(st)}); run: chmod {wanted} {path}"
        )


def _check_parent(path: Path) -> None:
    """The data directory holding the vault directory must not be writable by others
    (they could swap the vault directory)."""
    if not path.exists() or os.name != "posix":
        return
    st = path.stat()
    if st.st_uid != os.getuid():
        raise VaultError(f"refusing vault: its parent directory {path} is owned by uid {st.st_uid}, not by you")
    if stat.S_IMODE(st.st_mode) & 0o022:
        raise VaultError(
            f"refusing vault: its parent directory {path} is writable by group or others "
            f"(mode {_mode(st)}); run: chmod go-w {path}"
        )


def _kdf_summary(name: Any, n: Any, r: Any, p: Any, length: Any, salt: bytes) -> str:
    """A tampered header's values, short and printable (they are attacker-chosen)."""

    def short(value: Any) -> str:
        text = repr(value)
        return "".join(ch if ch.isprintable() else "?" for ch in text)[:24]

    return f"{short(name)} n={short(n)} r={short(r)} p={short(p)} length={short(length)} salt={len(salt)} bytes"


def derive_key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """Fernet key (urlsafe base64 of 32 bytes) from scrypt."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    raw = Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return base64.urlsafe_b64encode(raw)


def prompt_passphrase(new: bool) -> Secret:
    """Default passphrase provider: ``AITBC_VAULT_PASSPHRASE`` if set (weaker: the
    environment is visible to the process tree and may end up in shell history), else a
    prompt without echo, twice when creating a vault."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return Secret(env)
    if not sys.stdin or not sys.stdin.isatty():
        raise VaultError(f"the credential vault needs a passphrase: run in a terminal or set {PASSPHRASE_ENV}")
    if new:
        first = getpass.getpass("New vault passphrase: ")
        second = getpass.getpass("Repeat vault passphrase: ")
        if first != second:
            raise VaultError("the passphrases do not match; the vault was not created")
        return Secret(first)
    return Secret(getpass.getpass("Vault passphrase: "))


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise read-modify-write across processes (POSIX flock; no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class VaultBackend:
    """Credentials in an encrypted file. The passphrase is asked for on first use."""

    def __init__(
        self,
        path: Path | None = None,
        passphrase_provider: PassphraseProvider | None = None,
        *,
        insecure_test_scrypt_n: int | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else default_vault_path()
        self.name = "vault"
        self.description = f"encrypted vault ({self.path})"
        self._provider = passphrase_provider or prompt_passphrase
        # Tests only: a cheap KDF for new vaults, and the lowest n accepted on open.
        self._scrypt_n = insecure_test_scrypt_n or SCRYPT_N
        self._passphrase: Secret | None = None
        self._keys: dict[tuple[bytes, int, int, int], bytes] = {}

    # -- files --

    def exists(self) -> bool:
        return self.path.exists()

    def _check_location(self) -> None:
        _check_parent(self.path.parent.parent)
        if self.path.parent.exists():
            _check_private(self.path.parent, "directory")
        if self.path.exists():
            _check_private(self.path, "file")

    def _ensure_dir(self) -> None:
        _check_parent(self.path.parent.parent)
        paths.ensure_private_dir(self.path.parent)
        _check_private(self.path.parent, "directory")

    def _get_passphrase(self, new: bool) -> Secret:
        if self._passphrase is None:
            try:
                value = self._provider(new)
            except (EOFError, KeyboardInterrupt):
                raise VaultError("no vault passphrase given") from None
            value = value if isinstance(value, Secret) else Secret(value)
            if not value:
                raise VaultError("the vault passphrase must not be empty")
            self._passphrase = value
        return self._passphrase

    def _key(self, salt: bytes, n: int, r: int, p: int, new: bool) -> bytes:
        cache_key = (salt, n, r, p)
        if cache_key not in self._keys:
            passphrase = self._get_passphrase(new)
            self._keys[cache_key] = derive_key(passphrase.reveal(), salt, n, r, p)
        return self._keys[cache_key]

    def _read_header(self, raw: bytes) -> tuple[dict[str, Any], bytes, int, int, int, bytes]:
        where = f"vault file {self.path}"
        try:
            doc = json.loads(raw)
            if doc.get("format") != VAULT_FORMAT:
                raise ValueError("not an aitbc-tui vault")
            if doc.get("version") != VAULT_VERSION:
                raise ValueError(f"unsupported version {doc.get('version')!r}")
            kdf = doc["kdf"]
            if not isinstance(kdf, dict):
                raise TypeError("kdf is not an object")
            name, n, r, p, length = (kdf.get(k) for k in ("name", "n", "r", "p", "length"))
            salt = base64.b64decode(kdf["salt"], validate=True)
            token = doc["token"].encode("ascii")
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeError) as exc:
            raise VaultError(f"{where} is corrupt or not a vault ({exc}); it was not changed") from None
        # Only exactly what _save writes is accepted, checked before any KDF runs: a
        # tampered header asking for scrypt n=2^20, r=32, p=16 would cost GBs and minutes.
        # (The test-only reduced n is accepted only by a store created with it.)
        accepted_n = {SCRYPT_N, self._scrypt_n}
        if not (
            name == "scrypt"
            and type(n) is int
            and n in accepted_n
            and type(r) is int
            and r == SCRYPT_R
            and type(p) is int
            and p == SCRYPT_P
            and type(length) is int
            and length == KEY_BYTES
            and len(salt) == SALT_BYTES
        ):
            raise VaultError(
                f"{where}: unsupported key-derivation parameters (unacceptable KDF parameters:"
                f" {_kdf_summary(name, n, r, p, length, salt)}); it was not written by aitbc-tui"
            )
        return doc, salt, n, r, p, token

    def _load(self) -> tuple[dict[str, Any], tuple[bytes, int, int, int] | None]:
        """(venues blob, kdf params) — empty and None when there is no vault yet."""
        self._check_location()
        if not self.path.exists():
            return {}, None
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise VaultError(f"cannot read vault file {self.path}: {exc.strerror}") from None
        _doc, salt, n, r, p, token = self._read_header(raw)
        from cryptography.fernet import Fernet, InvalidToken

        key = self._key(salt, n, r, p, new=False)
        try:
            plain = Fernet(key).decrypt(token)
        except InvalidToken:
            self._keys.pop((salt, n, r, p), None)
            self._passphrase = None
            raise VaultError(f"cannot open vault {self.path}: wrong passphrase, or the file was modified") from None
        try:
            venues = json.loads(plain)["venues"]
            if not isinstance(venues, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise VaultError(f"vault {self.path} decrypted but its contents are malformed") from None
        return venues, (salt, n, r, p)

    def _save(self, venues: dict[str, Any], params: tuple[bytes, int, int, int] | None) -> None:
        from cryptography.fernet import Fernet

        self._ensure_dir()
        new = params is None
        if params is None:
            params = (secrets.token_bytes(SALT_BYTES), self._scrypt_n, SCRYPT_R, SCRYPT_P)
        salt, n, r, p = params
        token = Fernet(self._key(salt, n, r, p, new=new)).encrypt(json.dumps({"venues": venues}).encode("utf-8"))
        doc = {
            "format": VAULT_FORMAT,
            "version": VAULT_VERSION,
            "kdf": {
                "name": "scrypt",
                "n": n,
                "r": r,
                "p": p,
                "length": KEY_BYTES,
                "salt": base64.b64encode(salt).decode("ascii"),
            },
            "token": token.decode("ascii"),
        }
        self._atomic_write(json.dumps(doc, indent=1).encode("utf-8"))

    def _atomic_write(self, data: bytes) -> None:
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename durable
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _lock_path(self) -> Path:
        return self.path.parent / f".{self.path.name}.lock"

    # -- backend API --

    def get(self, venue: str) -> Credentials | None:
        venues, _ = self._load()
        blob = venues.get(venue)
        return None if blob is None else Credentials._from_blob(blob, f"vault {self.path}")

    def set(self, venue: str, credentials: Credentials) -> None:
        self._ensure_dir()
        with self._locked():
            venues, params = self._load()
            venues[venue] = credentials._to_blob()
            self._save(venues, params)

    def delete(self, venue: str) -> bool:
        if not self.path.exists():
            return False
        with self._locked():
            venues, params = self._load()
            if venue not in venues:
                return False
            del venues[venue]
            self._save(venues, params)
            return True

    def venues(self) -> list[str]:
        venues, _ = self._load()
        return sorted(venues)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with _locked(self._lock_path()):
                yield
        except OSError as exc:
            raise VaultError(f"cannot write vault {self.path}: {exc.strerror or exc}") from None


# ---- the store -------------------------------------------------------------------


class CredentialStore:
    """Where credentials live. ``set`` writes to the first backend; ``get`` looks in each
    in order; ``list`` shows all. Open with ``CredentialStore.open``."""

    def __init__(self, backends: list[KeyringBackend | VaultBackend]) -> None:
        if not backends:
            raise ValueError("a credential store needs at least one backend")
        self._backends = backends

    @classmethod
    def open(
        cls,
        prefer: StoreChoice = "auto",
        passphrase_provider: PassphraseProvider | None = None,
        *,
        vault_path: Path | None = None,
        keyring_backend: Any = None,
        insecure_test_scrypt_n: int | None = None,
    ) -> CredentialStore:
        """``auto``: the secure OS keyring if there is one (plus an existing vault for
        reading), else the vault. ``keyring``: the secure keyring or KeyringUnavailable.
        ``vault``: the vault only."""
        if prefer not in ("auto", "keyring", "vault"):
            raise CredentialError(f"unknown credential store {prefer!r}: use auto, keyring or vault")

        def vault() -> VaultBackend:
            return VaultBackend(vault_path, passphrase_provider, insecure_test_scrypt_n=insecure_test_scrypt_n)

        if prefer == "vault":
            return cls([vault()])
        try:
            ring = KeyringBackend(secure_keyring(keyring_backend))
        except KeyringUnavailable:
            if prefer == "keyring":
                raise
            return cls([vault()])
        backends: list[KeyringBackend | VaultBackend] = [ring]
        if prefer == "auto":
            existing = vault()
            if existing.exists():
                backends.append(existing)
        return cls(backends)

    @property
    def backend_name(self) -> str:
        """Where ``set`` writes: "keyring" or "vault"."""
        return self._backends[0].name

    @property
    def description(self) -> str:
        return self._backends[0].description

    def set(self, venue: str, credentials: Credentials) -> None:
        if not isinstance(credentials, Credentials):
            raise TypeError("CredentialStore.set needs a Credentials")
        self._backends[0].set(validate_venue_name(venue), credentials)

    def get(self, venue: str) -> Credentials | None:
        validate_venue_name(venue)
        for backend in self._backends:
            found = backend.get(venue)
            if found is not None:
                return found
        return None

    def delete(self, venue: str) -> bool:
        """True if an entry was deleted from any backend."""
        validate_venue_name(venue)
        deleted = False
        for backend in self._backends:
            deleted = backend.delete(venue) or deleted
        return deleted

    def list(self) -> list[CredentialEntry]:
        entries: list[CredentialEntry] = []
        seen: set[str] = set()
        for backend in self._backends:
            for venue in backend.venues():
                if venue in seen:
                    continue
                creds = backend.get(venue)
                if creds is None:  # index entry without its item
                    continue
                seen.add(venue)
                entries.append(CredentialEntry(venue, backend.name, creds.masked_key(), creds.read_only))
        return sorted(entries, key=lambda e: e.venue)
