"""Frozen records whose constructor converts and checks: the settings' classes are made of
them (core/settings.py). Lighter than pydantic (≈0.2 MB and a few ms to import, against
≈17 MB and ≈130 ms), which the worker, ``status`` and ``queue`` no longer load.

Each class made of ``Record`` declares its fields as annotations with defaults (``Field`` adds bounds).
Constructing one converts and checks every value given (a TOML table becomes the nested
object, "5" from an environment variable becomes 5, a string becomes a Path...), refuses
unknown keys, runs the field checks, then the checks across fields; defaults are taken as
written. Every problem is reported with where it is (``InvalidSettings.errors``). The
objects are frozen: ``replace`` makes a changed copy, checked like a new one.
"""

from __future__ import annotations

import inspect
import os
import re
import types
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import (
    Any,
    ClassVar,
    Literal,
    Self,
    TypeVar,
    Union,
    dataclass_transform,
    get_args,
    get_origin,
    get_type_hints,
)

from .errors import SettingsError


class InvalidSettings(SettingsError, ValueError):
    """Settings that fail their checks. ``errors`` lists each problem with its place, a
    tuple of field names and keys such as ``("worker", "threads")``; ``()`` is a check
    across the fields of the object checked."""

    def __init__(self, errors: list[tuple[tuple[str, ...], str]]) -> None:
        self.errors = errors
        super().__init__(
            "; ".join(f"{'.'.join(loc)}: {msg}" if loc else msg for loc, msg in errors)
        )


_REQUIRED: Any = object()
_BAD: Any = object()  # a value that failed (its error is already recorded)


class _FieldSpec:
    __slots__ = ("default", "default_factory", "ge", "gt", "le", "max_length", "min_length",
                 "pattern")  # fmt: skip

    def __init__(
        self,
        default: Any = _REQUIRED,
        default_factory: Callable[[], Any] | None = None,
        *,
        gt: float | None = None,
        ge: float | None = None,
        le: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
    ) -> None:
        self.default, self.default_factory = default, default_factory
        self.gt, self.ge, self.le = gt, ge, le
        self.min_length, self.max_length, self.pattern = min_length, max_length, pattern

    def problem(self, value: Any) -> str | None:
        """What is wrong with a converted value against the bounds, if anything."""
        if value is None:
            return None
        if self.gt is not None and not value > self.gt:
            return f"must be greater than {self.gt:g}"
        if self.ge is not None and not value >= self.ge:
            return f"must be at least {self.ge:g}"
        if self.le is not None and not value <= self.le:
            return f"must be at most {self.le:g}"
        if self.min_length is not None and len(value) < self.min_length:
            if self.min_length == 1:
                return "must not be empty"
            return f"must be at least {self.min_length} characters long"
        if self.max_length is not None and len(value) > self.max_length:
            return f"must be at most {self.max_length} characters long"
        if self.pattern is not None and not re.search(self.pattern, value):
            return f"must match the pattern {self.pattern} (not {value!r})"
        return None


def Field(
    default: Any = _REQUIRED,
    *,
    default_factory: Callable[[], Any] | None = None,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """A field's default and bounds: ``threads: int | None = Field(default=None, ge=1)``."""
    return _FieldSpec(
        default,
        default_factory,
        gt=gt,
        ge=ge,
        le=le,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
    )


_F = TypeVar("_F")


def field_check(*names: str) -> Callable[[_F], _F]:
    """Marks a classmethod ``(cls, value) -> value`` that checks (and may tidy) the
    converted value of each named field; a ``ValueError`` is that field's problem."""

    def mark(method: _F) -> _F:
        target: Any = method.__func__ if isinstance(method, classmethod) else method
        target._checks_fields = names
        return method

    return mark


def whole_check(method: _F) -> _F:
    """Marks a method ``(self) -> None`` that checks fields together, once each field is
    valid; a ``ValueError`` is the object's problem."""
    target: Any = method
    target._checks_whole = True
    return method


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"must be a string, not {value!r}")


def _number(text: str) -> float | str:
    """``text`` as a float, else ``text`` itself."""
    try:
        return float(text.strip())
    except ValueError:
        return text


def _to_int(value: Any) -> int:
    if isinstance(value, int):  # True is 1, as pydantic had it
        return int(value)
    number = value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            number = _number(value)  # "4.0" from an environment variable
    if isinstance(number, float) and number.is_integer():
        return int(number)
    raise ValueError(f"must be a whole number, not {value!r}")


def _to_float(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ValueError(f"must be a number, not {value!r}")


_TRUE = {"true", "1", "yes", "y", "on", "t"}
_FALSE = {"false", "0", "no", "n", "off", "f"}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"must be true or false, not {value!r}")


def _to_path(value: Any) -> Path:
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise ValueError(f"must be a path, not {value!r}")


def _to_datetime(value: Any) -> datetime:
    """A datetime; also an ISO 8601 string, a date (its midnight, without a zone) or Unix
    seconds (UTC), as pydantic took them."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            value = _number(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    raise ValueError(f"must be a date and time such as 2027-05-01T00:00:00+01:00, not {value!r}")


def _to_time(value: Any) -> time:
    """A time of day; also ``HH:MM[:SS]`` or seconds since midnight."""
    if isinstance(value, time):
        return value
    if isinstance(value, str) and ":" in value:
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 86400:
        return (datetime.min + timedelta(seconds=value)).time()
    raise ValueError(f"must be a time of day such as 16:00, not {value!r}")


_SCALARS: dict[Any, Callable[[Any], Any]] = {
    str: _to_str,
    int: _to_int,
    float: _to_float,
    bool: _to_bool,
    Path: _to_path,
    datetime: _to_datetime,
    time: _to_time,
}


def _convert(kind: Any, value: Any, loc: tuple[str, ...], errors: list[Any]) -> Any:
    """``value`` as a ``kind`` (a type hint), or ``_BAD`` with the problem(s) recorded."""
    origin = get_origin(kind)
    if origin is types.UnionType or origin is Union:  # X | None
        if value is None:
            return None
        (inner,) = (a for a in get_args(kind) if a is not type(None))
        return _convert(inner, value, loc, errors)
    if origin is Literal:
        allowed = get_args(kind)
        if isinstance(value, str) and value in allowed:
            return value
        errors.append((loc, f"must be one of {', '.join(map(repr, allowed))}, not {value!r}"))
        return _BAD
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            errors.append((loc, f"must be a list, not {value!r}"))
            return _BAD
        item = get_args(kind)[0]
        items = [_convert(item, v, (*loc, str(i)), errors) for i, v in enumerate(value)]
        return _BAD if any(v is _BAD for v in items) else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            errors.append((loc, f"must be a table, not {value!r}"))
            return _BAD
        item = get_args(kind)[1]
        entries = {str(k): _convert(item, v, (*loc, str(k)), errors) for k, v in value.items()}
        return _BAD if any(v is _BAD for v in entries.values()) else entries
    if isinstance(kind, type) and issubclass(kind, Record):
        if isinstance(value, kind):
            return value
        if isinstance(value, dict):
            made = object.__new__(kind)
            return made if made._fill(value, loc, errors, defaults=True) else _BAD
        errors.append((loc, f"must be a table of settings, not {value!r}"))
        return _BAD
    try:
        return _SCALARS[kind](value)
    except ValueError as exc:
        errors.append((loc, str(exc)))
        return _BAD


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(Field,))
class Record:
    """A frozen record of settings whose constructor converts and checks (see above)."""

    _fields: ClassVar[dict[str, _FieldSpec]]
    _field_checks: ClassVar[dict[str, list[Callable[[Any], Any]]]]
    _whole_checks: ClassVar[list[Callable[[Any], None]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, _FieldSpec] = {}
        for name in inspect.get_annotations(cls):
            declared = cls.__dict__.get(name, _REQUIRED)
            fields[name] = declared if isinstance(declared, _FieldSpec) else _FieldSpec(declared)
            if name in cls.__dict__:
                delattr(cls, name)  # values live on the instances
        checks: dict[str, list[Callable[[Any], Any]]] = {}
        whole: list[Callable[[Any], None]] = []
        for name, member in cls.__dict__.items():
            function = member.__func__ if isinstance(member, classmethod) else member
            for field_name in getattr(function, "_checks_fields", ()):
                checks.setdefault(field_name, []).append(getattr(cls, name))
            if getattr(function, "_checks_whole", False):
                whole.append(function)
        cls._fields, cls._field_checks, cls._whole_checks = fields, checks, whole

    @classmethod
    def field_types(cls) -> dict[str, Any]:
        """Each field's type hint (resolved on first use, then kept)."""
        hints: dict[str, Any] | None = cls.__dict__.get("_hints")
        if hints is None:
            every = get_type_hints(cls)
            hints = {name: every[name] for name in cls._fields}
            cls._hints = hints  # type: ignore[attr-defined]
        return hints

    def __init__(self, **values: Any) -> None:
        errors: list[tuple[tuple[str, ...], str]] = []
        if not self._fill(values, (), errors, defaults=True):
            raise InvalidSettings(errors)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, converted and checked as in the constructor."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        errors: list[tuple[tuple[str, ...], str]] = []
        if not copy._fill(changes, (), errors, defaults=False):
            raise InvalidSettings(errors)
        return copy

    def _fill(
        self, values: dict[str, Any], loc: tuple[str, ...], errors: list[Any], *, defaults: bool
    ) -> bool:
        """Set the fields from ``values`` (the rest from their defaults, if ``defaults``),
        then check the whole; False with the problems in ``errors`` if anything failed."""
        cls = type(self)
        failed = len(errors)
        types_ = cls.field_types() if values else {}
        for name, spec in cls._fields.items():
            if name in values:
                value = _convert(types_[name], values[name], (*loc, name), errors)
                if value is _BAD:
                    continue
                problem = spec.problem(value)
                if problem is not None:
                    errors.append(((*loc, name), problem))
                    continue
                try:
                    for check in cls._field_checks.get(name, ()):
                        value = check(value)
                except ValueError as exc:
                    errors.append(((*loc, name), str(exc)))
                    continue
            elif not defaults:
                continue
            elif spec.default_factory is not None:
                value = spec.default_factory()
            elif spec.default is _REQUIRED:
                errors.append(((*loc, name), "is required"))
                continue
            else:
                value = spec.default
            object.__setattr__(self, name, value)
        errors.extend(
            ((*loc, str(key)), "not a known setting") for key in values if key not in cls._fields
        )
        if len(errors) > failed:
            return False
        try:
            for check in cls._whole_checks:
                check(self)
        except ValueError as exc:
            errors.append((loc, str(exc)))
            return False
        return True

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"settings are frozen: use .replace({name}=...) for a changed copy")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("settings are frozen")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), *(self.__dict__[name] for name in self._fields)))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={self.__dict__.get(name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"
