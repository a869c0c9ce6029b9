"""v1 calling convention: a JSON array of positional parameters, bound to a method's signature.

Parameters are read from each method's type hints, so adding a method is writing one function.
Coercion follows what real clients send: booleans as 0/1, integers as numeric strings,
an empty PHP array `[]` where an object is expected, `false` for an absent string, and
`null` (or a missing trailing element) for "use the default".
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from kirje.domain.errors import Invalid
from kirje.domain.lists import MemberPage
from kirje.services.account_services import AccountServices

T = TypeVar("T")

# What every v1 method receives first: the caller's account, with its services.
Call = AccountServices

_NO_DEFAULT = inspect.Parameter.empty


@dataclass(frozen=True)
class Parameter:
    name: str
    annotation: Any
    default: Any

    @property
    def is_required(self) -> bool:
        return self.default is _NO_DEFAULT

    def coerce(self, position: int, value: Any) -> Any:
        if value is None:
            if self.is_required:
                raise Invalid(f"parameter {position} ({self.name}) is required")
            return self.default
        if value == [] and _accepts(self.annotation, dict):
            return {}
        if (
            value is False
            and _accepts(self.annotation, str)
            and not _accepts(self.annotation, bool)
        ):
            # PHP clients send false for a string they do not have.
            if self.is_required:
                raise Invalid(f"parameter {position} ({self.name}) is required")
            return self.default
        try:
            return msgspec.convert(value, self.annotation, strict=False)
        except msgspec.ValidationError as error:
            raise Invalid(f"parameter {position} ({self.name}): {error}") from None


@dataclass(frozen=True)
class V1Method:
    name: str
    function: Callable[..., Any]
    parameters: tuple[Parameter, ...]

    @classmethod
    def of(cls, name: str, function: Callable[..., Any]) -> V1Method:
        hints = typing.get_type_hints(function)
        signature = inspect.signature(function)
        parameters = tuple(
            Parameter(p.name, hints.get(p.name, Any), p.default)
            for p in list(signature.parameters.values())[1:]
        )
        return cls(name, function, parameters)

    def bind(self, arguments: list[Any]) -> list[Any]:
        if len(arguments) > len(self.parameters):
            raise Invalid(
                f"{self.name} takes at most {len(self.parameters)} parameters, "
                f"{len(arguments)} given"
            )
        padded = arguments + [None] * (len(self.parameters) - len(arguments))
        return [
            parameter.coerce(position, value)
            for position, (parameter, value) in enumerate(
                zip(self.parameters, padded, strict=True), start=1
            )
        ]

    def __call__(self, call: Call, arguments: list[Any]) -> Any:
        return self.function(call, *self.bind(arguments))


def _accepts(annotation: Any, kind: type) -> bool:
    if annotation is kind or typing.get_origin(annotation) is kind:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_accepts(member, kind) for member in typing.get_args(annotation))
    return False


def positional_arguments(body: Any) -> list[Any]:
    """The body as a parameter list: an array as is, nothing for an empty body or null,
    and any other single value as the one parameter (the WordPress plugins post `"hello"`)."""
    if body is None:
        return []
    if isinstance(body, list):
        return body
    return [body]


def page_of(
    offset: int, num: int, order: str | None, sort: str | None, filter: str | None
) -> MemberPage:
    """LianaMailer's listing parameters: num 0 is everything, sort is asc (default) or desc."""
    direction = (sort or "asc").lower()
    if direction not in ("asc", "desc"):
        raise Invalid("sort must be asc or desc")
    return MemberPage(offset, num or None, order or "id", direction == "desc", filter)


def keyed_options(value: dict | None, kind: type[T], name: str) -> T:
    """An options or filters object of a v1 method, read into a msgspec Struct declared with
    forbid_unknown_fields: missing keys take the Struct's defaults, unknown keys and wrong
    types are refused naming the parameter and the key."""
    try:
        return msgspec.convert(value or {}, kind, strict=False)
    except msgspec.ValidationError as error:
        raise Invalid(f"{name}: {error}") from None
