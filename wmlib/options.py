"""Command-line options for every setting of a profile, generated from its frozen dataclasses.

`--control.generations 40` overrides one field of the chosen profile; `--help` shows each
field's docstring and the profile's value. The dataclasses stay the one place a setting is
described: Python keeps no docstrings for fields at run time, so they are read from the source.
"""

import argparse
import ast
import dataclasses
import functools
import inspect
import types
import typing

from wmlib.config import Profile

NOT_SETTINGS = ("name", "description", "task")
"""Profile fields that name the profile rather than set anything (the task has its own
option, read first, since each task has its own profiles)."""


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass, by field name, on one line."""
    body = ast.parse(inspect.getsource(cls)).body[0].body
    return {
        statement.target.id: " ".join(following.value.value.split())
        for statement, following in zip(body, body[1:], strict=False)
        if isinstance(statement, ast.AnnAssign)
        and isinstance(following, ast.Expr)
        and isinstance(following.value, ast.Constant)
        and isinstance(following.value.value, str)
    }


def parse_bool(text: str) -> bool:
    """'true'/'false' (or 1/0, yes/no) as a bool."""
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def parse_numbers(text: str) -> tuple[float, ...]:
    """'0.1,1.15' as (0.1, 1.15)."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, not {text!r}"
        ) from None


def annotation_of(profile: Profile, name: str):
    """The annotation of a setting's field (dotted name), such as `int | None`."""
    section, _, inner = name.partition(".")
    owner = getattr(profile, section) if inner else profile
    return {field.name: field.type for field in dataclasses.fields(owner)}[inner or section]


def may_be_none(profile: Profile, name: str) -> bool:
    """Whether a setting may be left unset (its annotation admits None)."""
    annotation = annotation_of(profile, name)
    return isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation)


def setting_type(profile: Profile, name: str) -> type:
    """The type a setting holds, from its field's annotation (`int | None` gives int), so that
    a setting whose profile leaves it at None still reads a value."""
    annotation = annotation_of(profile, name)
    if isinstance(annotation, types.UnionType):
        (annotation,) = (kind for kind in typing.get_args(annotation) if kind is not type(None))
    return typing.get_origin(annotation) or annotation


def or_none(parse):
    """`parse`, reading 'none' as None: how a setting a profile sets is unset again."""

    @functools.wraps(parse)  # argparse names the type in its errors: "invalid int value"
    def parse_or_none(text: str):
        return None if text.lower() == "none" else parse(text)

    return parse_or_none


def parser_of(kind: type, optional: bool = False):
    """How to read a setting of this type from the command line; 'none' too if `optional`."""
    parsers = {bool: parse_bool, tuple: parse_numbers}
    parse = parsers.get(kind, kind)
    return or_none(parse) if optional else parse


def settings(profile: Profile) -> dict[str, tuple[object, str]]:
    """Every setting of a profile by dotted name ("control.generations"): (value, docstring)."""
    found = {}
    for field in dataclasses.fields(profile):
        value = getattr(profile, field.name)
        if field.name in NOT_SETTINGS:
            continue
        if dataclasses.is_dataclass(value):
            docs = field_docs(type(value))
            for inner in dataclasses.fields(value):
                found[f"{field.name}.{inner.name}"] = (getattr(value, inner.name), docs[inner.name])
        else:
            found[field.name] = (value, field_docs(Profile)[field.name])
    return found


def add_setting_options(parser: argparse.ArgumentParser, profile: Profile) -> None:
    """One `--section.field` option per setting, defaulting to the profile's value."""
    group = parser.add_argument_group(f"settings (defaults: profile {profile.name!r})")
    for name, (value, doc) in settings(profile).items():
        kind, optional = setting_type(profile, name), may_be_none(profile, name)
        unset = "; 'none' unsets it" if optional else ""
        group.add_argument(
            f"--{name}",
            dest=name,
            type=parser_of(kind, optional),
            default=value,
            metavar=kind.__name__.upper(),
            help=doc.replace("%", "%%") + f" (default: %(default)s{unset})",
        )


def with_settings(profile: Profile, values: dict[str, object]) -> Profile:
    """The profile with the given settings (dotted names) replaced; the others as they were."""
    sections: dict[str, dict] = {}
    top = {}
    for name, value in values.items():
        section, _, field = name.partition(".")
        if field:
            sections.setdefault(section, {})[field] = value
        else:
            top[section] = value
    replaced = {
        section: dataclasses.replace(getattr(profile, section), **fields)
        for section, fields in sections.items()
    }
    return dataclasses.replace(profile, **replaced, **top)
