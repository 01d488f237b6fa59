"""Property tests for settings: every on/off setting, wherever it is read, is read by one rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdk.settings import SettingsError, StackSettings, check_context_keys, known_context_keys
from collector.config import ConfigError, Settings
from collector.reconcile_handler import options_from_env

ORG_ID = "m-" + "0" * 32
WORDS = {w: True for w in ("true", "yes", "on", "1")} | {w: False for w in ("false", "no", "off", "0")}
WHITESPACE = st.text(alphabet=" \t\n\r", max_size=3)


@st.composite
def spellings(draw: st.DrawFn) -> tuple[str, bool]:
    """A true or false word in any casing, with whitespace around it."""
    word = draw(st.sampled_from(sorted(WORDS)))
    upper = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    cased = "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
    return draw(WHITESPACE) + cased + draw(WHITESPACE), WORDS[word]


def no_boolean(text: str) -> bool:
    return text.strip() != "" and text.strip().lower() not in WORDS


# Every boolean setting, each read through its own entry point: a function of the raw value.
def _env(name: str) -> Callable[[str], bool]:
    def read(value: str) -> bool:
        read = Settings.from_env({name: value, "COLLECTOR_REDACTION_KEY": "k" * 32, "HOME": "/tmp"})
        return bool(getattr(read, {"COLLECTOR_REDACT": "redact", "COLLECTOR_LOG_PII": "log_pii"}[name]))

    return read


def _fix(value: str) -> bool:
    return options_from_env({"COLLECTOR_RECONCILE_FIX": value}, Settings(), date(2026, 1, 1)).fix


def _context(key: str) -> Callable[[str], bool]:
    def read(value: str) -> bool:
        stack = StackSettings.from_context({"organizationId": ORG_ID, key: value}.get)
        return bool(getattr(stack, {"redact": "redact", "reconcile": "reconcile"}[key]))

    return read


READERS: dict[str, tuple[Callable[[str], bool], type[Exception]]] = {
    "COLLECTOR_REDACT": (_env("COLLECTOR_REDACT"), ConfigError),
    "COLLECTOR_LOG_PII": (_env("COLLECTOR_LOG_PII"), ConfigError),
    "COLLECTOR_RECONCILE_FIX": (_fix, ConfigError),
    "context redact": (_context("redact"), SettingsError),
    "context reconcile": (_context("reconcile"), SettingsError),
}


@pytest.mark.parametrize("setting", sorted(READERS))
@settings(deadline=None)  # a busy CI machine: timing is no property here
@given(spelled=spellings())
def test_any_casing_and_whitespace_of_true_or_false_is_taken(setting: str, spelled: tuple[str, bool]) -> None:
    text, meaning = spelled
    read, _ = READERS[setting]
    assert read(text) is meaning


@pytest.mark.parametrize("setting", sorted(READERS))
@settings(deadline=None)  # a busy CI machine: timing is no property here
@given(text=st.text(max_size=8).filter(no_boolean))
def test_anything_else_is_refused_naming_the_setting(setting: str, text: str) -> None:
    read, error = READERS[setting]
    name = setting.removeprefix("context ")
    with pytest.raises(error, match=name):
        read(text)


@pytest.mark.parametrize("setting", sorted(READERS))
def test_a_misspelt_true_is_refused_not_read_as_false(setting: str) -> None:
    read, error = READERS[setting]
    for typo in ("ture", "flase", "treu", "y e s"):
        with pytest.raises(error, match="must be true or false"):
            read(typo)


@pytest.mark.parametrize("setting", sorted(READERS))
@settings(deadline=None)  # a busy CI machine: timing is no property here
@given(blank=WHITESPACE)
def test_unset_or_blank_is_off(setting: str, blank: str) -> None:
    read, _ = READERS[setting]
    assert read(blank) is False


# ------------------------------------------------------------------ WorkMail's metric dimension


def _dimension_readers(value: str) -> list[tuple[Callable[[], object], str]]:
    """The dimension as the reconcile command, the scheduled reconcile and the stack take it, each
    with the text it checks (the environment and the context strip it; a blank variable is unset)."""
    from collector.cli import parser
    from collector.cli.reconcile import options_from

    args = parser().parse_args(["reconcile", f"--workmail-dimension={value}"])
    env = value.strip() or "OrganizationId"
    return [
        (lambda: options_from(args, Settings(), date(2026, 1, 2)), value),
        (
            lambda: options_from_env(
                {"COLLECTOR_WORKMAIL_METRIC_DIMENSION": value}, Settings(), date(2026, 1, 1)
            ),
            env,
        ),
        (
            lambda: StackSettings.from_context(
                {"organizationId": ORG_ID, "workmailMetricDimension": value}.get
            ),
            value.strip(),
        ),
    ]


@settings(deadline=None)  # a busy CI machine: timing is no property here
@given(value=st.text(alphabet=st.characters(codec="ascii"), max_size=6))
def test_a_dimension_name_cloudwatch_refuses_is_refused_by_every_reader(value: str) -> None:
    from collector.config import DIMENSION_NAME

    for read, checked in _dimension_readers(value):
        if DIMENSION_NAME.fullmatch(checked):
            read()
        else:
            with pytest.raises((ConfigError, SettingsError), match="dimension name"):
                read()


# ----------------------------------------------------------------------------- CDK context keys


@st.composite
def misspellings(draw: st.DrawFn) -> tuple[str, str]:
    """A known key with its letters' case changed, one letter dropped, or a `-`/`_` put in."""
    key = draw(st.sampled_from(sorted(known_context_keys())))
    how = draw(st.sampled_from(["case", "drop", "separator"]))
    at = draw(st.integers(1, len(key) - 1))
    if how == "case":
        flips = draw(st.lists(st.booleans(), min_size=len(key), max_size=len(key)))
        typo = "".join(c.swapcase() if f else c for c, f in zip(key, flips, strict=True))
    elif how == "drop":
        typo = key[:at] + key[at + 1 :]
    else:
        typo = key[:at] + draw(st.sampled_from("-_")) + key[at:]
    return key, typo


@settings(deadline=None)  # a busy CI machine: timing is no property here
@given(case=misspellings())
def test_a_misspelt_context_key_is_refused_naming_a_known_key(case: tuple[str, str]) -> None:
    key, typo = case
    if typo in known_context_keys():  # a drop that spells another key (none today), or no change
        check_context_keys([typo])
        return
    with pytest.raises(
        SettingsError, match=f"unknown context key {typo} .*did you mean (\\w+)\\?"
    ) as refused:
        check_context_keys([typo])
    suggested = str(refused.value).rsplit("did you mean ", 1)[1].rstrip("?")
    assert suggested in known_context_keys()
    if typo.lower().replace("-", "").replace("_", "") == key.lower():
        assert suggested == key  # only the spelling differs: the key itself is named


@settings(deadline=None)  # a busy CI machine: timing is no property here
@given(keys=st.lists(st.sampled_from(sorted(known_context_keys()))))
def test_known_keys_and_the_cdks_own_pass(keys: list[str]) -> None:
    check_context_keys([*keys, "@aws-cdk/core:newStyleStackSynthesis", "aws:cdk:enable-path-metadata"])


# ------------------------------------------------------------------------- audit filter values


@settings(deadline=None)  # a busy CI machine: timing is no property here
@given(
    value=st.sampled_from(["WorkMail", "SES", "RECORDED", "INVALID", "Bounce", "DeliveryDelay"]),
    flips=st.lists(st.booleans(), min_size=13, max_size=13),
    pad=WHITESPACE,
)
def test_audit_filters_take_any_casing(value: str, flips: list[bool], pad: str) -> None:
    from collector.cli import parser

    typed = pad + "".join(c.swapcase() if f else c for c, f in zip(value, flips, strict=False)) + pad
    flag = {"WorkMail": "--source", "SES": "--source", "RECORDED": "--status", "INVALID": "--status"}
    name = flag.get(value, "--event-type")
    args = parser().parse_args(["audit", "list", f"{name}={typed}"])
    assert getattr(args, name.removeprefix("--").replace("-", "_")) == value
