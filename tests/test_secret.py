"""Secret and Credentials never show their values."""

from __future__ import annotations

import copy
import logging
import pickle
import traceback

import pytest

from aitbc_tui.credentials import Credentials
from aitbc_tui.secret import REDACTED, Secret

VALUE = "sk-live-0123456789abcdef"
# Built at run time: tracebacks show source lines, and a literal there is not a leak.
OTHER = "s3cr3t-" + "value-xyz"
THIRD = "pass-" + "phrase-1"


def test_repr_str_format_are_redacted():
    s = Secret(VALUE)
    assert repr(s) == REDACTED == "Secret('****')"
    assert str(s) == REDACTED
    assert f"{s}" == REDACTED
    assert f"{s!r} {s!s} {s:>40}" == f"{REDACTED} {REDACTED} {REDACTED}"
    assert f"{s}" == REDACTED
    assert "%s %r" % (s, s) == f"{REDACTED} {REDACTED}"  # noqa: UP031 - %-formatting is what is tested
    assert VALUE not in repr([s, {"k": s}, (s,)])
    assert s.reveal() == VALUE


def test_exception_traceback_text_is_redacted():
    def fails(secret):
        raise ValueError(f"login failed for {secret}")

    try:
        fails(Secret(VALUE))
    except ValueError:
        text = traceback.format_exc()
    assert "login failed for Secret('****')" in text
    assert VALUE not in text


def test_traceback_with_locals_is_redacted():
    def fails(creds):
        api_key = creds.api_key  # noqa: F841 - a local the traceback shows
        raise RuntimeError("boom")

    try:
        fails(Credentials(Secret(VALUE), Secret(OTHER), Secret(THIRD)))
    except RuntimeError as exc:
        text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert "api_key = Secret('****')" in text
    for leaked in (VALUE, OTHER, THIRD):
        assert leaked not in text


def test_rich_traceback_with_locals_is_redacted():
    rich_traceback = pytest.importorskip("rich.traceback")
    from rich.console import Console

    def fails(creds, secret):
        raise RuntimeError("boom")

    try:
        fails(Credentials(Secret(VALUE), Secret(OTHER)), Secret(THIRD))
    except RuntimeError:
        import sys

        console = Console(record=True, width=200, file=open("/dev/null", "w"))
        console.print(rich_traceback.Traceback.from_exception(*sys.exc_info(), show_locals=True))
        text = console.export_text()
    assert "Secret('****')" in text
    for leaked in (VALUE, OTHER, THIRD):
        assert leaked not in text


def test_logging_at_debug_is_redacted(caplog):
    log = logging.getLogger("aitbc_tui.test_secret")
    creds = Credentials(Secret(VALUE), Secret(OTHER))
    with caplog.at_level(logging.DEBUG, logger="aitbc_tui.test_secret"):
        log.debug("using key %s and %r", Secret(VALUE), creds)
        log.debug("creds=%s", {"binance": creds})
        log.debug(f"f-string {creds.secret}")
    assert caplog.records
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "Secret('****')" in text
    assert VALUE not in text and OTHER not in text


def test_not_picklable_and_copy_is_safe():
    s = Secret(VALUE)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(s, protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps(Credentials(s, s))
    assert copy.copy(s) is s and copy.deepcopy(s) is s
    assert copy.deepcopy(Credentials(s, s)).api_key.reveal() == VALUE


def test_equality_is_value_based_and_unhashable():
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"  # a Secret never equals a plain string
    assert not (Secret("a") == "a")
    with pytest.raises(TypeError):
        hash(Secret("a"))
    assert Credentials(Secret("k" * 12), Secret("s")) == Credentials(Secret("k" * 12), Secret("s"))


def test_immutable_and_typed():
    s = Secret(VALUE)
    with pytest.raises(AttributeError):
        s._value = "x"
    with pytest.raises(AttributeError):
        s.other = "x"
    with pytest.raises(TypeError):
        Secret(b"bytes")
    assert Secret(s).reveal() == VALUE
    assert not Secret("") and Secret("x")


def test_credentials_repr_and_masked_key():
    creds = Credentials(Secret("ABCDEFGHIJKLMNOP"), Secret("topsecretvalue"), Secret("phrase"), read_only=True)
    text = repr(creds) + str(creds) + f"{creds}"
    assert "ABCD" not in text and "topsecret" not in text and "phrase=" in text
    assert "read_only=True" in text
    assert creds.masked_key() == "ABCD…OP"
    assert Credentials(Secret("short"), Secret("x")).masked_key() == "****"
    # plain strings are wrapped on the way in
    wrapped = Credentials("ABCDEFGHIJKLMNOP", "topsecretvalue")
    assert isinstance(wrapped.api_key, Secret) and isinstance(wrapped.secret, Secret)
    with pytest.raises(TypeError):
        Credentials(123, Secret("x"))
