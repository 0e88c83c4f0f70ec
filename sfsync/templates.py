"""Checking admin-written text templates (subjects, Chatter posts) when config is loaded.

Pure and dependency-free, so both the collections policy and the escalation policy can use it
without importing each other.
"""

from __future__ import annotations

import string


def check_template(template: str, fields: dict[str, object], what: str) -> str:
    """Return ``template`` if it only uses ``fields``; else raise ``ValueError`` naming ``what``.

    Refused: unknown placeholders (the message lists the allowed ones), attribute or index
    access (``{customer.__class__}``) and broken format specs. Templates come from config: a
    template must not reach into Python objects, and a typo must fail when the policy is loaded,
    not on the day a Case is opened or escalates.
    """
    allowed = ", ".join("{" + name + "}" for name in fields)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise ValueError(f"{what} {template!r} is not a valid template ({error})") from None
    for name in names:
        if name not in fields:
            raise ValueError(f"{what} placeholder {{{name}}} is unknown; use {allowed}")
    try:
        template.format(**fields)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{what} {template!r} has a bad format spec ({error})") from None
    return template
