"""A command line mistake (a missing option, an unknown one, a bad choice or number), as one line in the
operator's language: both command lines (`mediasrv`, `mediasrv-site`) render click's usage errors
here, so they say the same thing the same way, naming the option as typed.

Standard library only (the agent imports protocol, and protocol imports no library), so typer's
exceptions (its own copy of click's) are read by their class names and attributes: `param` (its `opts`,
`param_type_name`, `name`, `min`, `max`), `option_name`, `possibilities`, `message`, and for a value
typer could not convert, the validation error it came from (`__cause__.errors()`: type, ctx).
"""

from __future__ import annotations

import re
from typing import Any, Literal

Lang = Literal["zh", "en"]

# key -> (中文, English), the same {params} in both; the hint to --help follows every line.
USAGE: dict[str, tuple[str, str]] = {
    "missing_option": ("缺少选项 {option}。", "Missing option {option}."),
    "missing_argument": ("缺少参数 {argument}。", "Missing argument {argument}."),
    "no_such_option": ("没有 {option} 这个选项。", "There is no option {option}."),
    "no_such_option_maybe": (
        "没有 {option} 这个选项，您要写的是不是 {maybe}？",
        "There is no option {option}; did you mean {maybe}?",
    ),
    "no_such_command": ("没有 {name} 这个命令。", "There is no command {name}."),
    "extra_arguments": ("多写了参数：{extra}。", "Unexpected extra arguments: {extra}."),
    "needs_value": ("选项 {option} 后面要写一个值。", "Option {option} needs a value."),
    "bad_choice": ("{option} 只能是 {choices} 之一。", "{option} must be one of {choices}."),
    "bad_integer": ("{option} 要写一个整数。", "{option} must be a whole number."),
    "bad_number": ("{option} 要写一个数。", "{option} must be a number."),
    "bad_range": ("{option} 要在 {low} 到 {high} 之间。", "{option} must be from {low} to {high}."),
    "bad_low": ("{option} 不能小于 {low}。", "{option} must be at least {low}."),
    "bad_high": ("{option} 不能大于 {high}。", "{option} must be at most {high}."),
    "bad_above": ("{option} 要大于 {low}。", "{option} must be more than {low}."),
    "bad_below": ("{option} 要小于 {high}。", "{option} must be less than {high}."),
    "no_such_path": (
        "{option} 写的 {value} 不存在：请检查路径。",
        "{option}: {value} does not exist; check the path.",
    ),
    "bad_value": ("{option} 的值不对（{detail}）。", "{option} has a wrong value ({detail})."),
    "other": ("命令写得不对（{detail}）。", "The command is not right ({detail})."),
    "help": ("运行 {command} --help 可以查看用法。", "Run {command} --help for its usage."),
    "aborted": ("已取消。", "Cancelled."),
}


def _text(key: str, lang: Lang, **params: object) -> str:
    return USAGE[key][0 if lang == "zh" else 1].format(**params)


def _kinds(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def is_usage_error(exc: BaseException) -> bool:
    """A mistake in the command line itself, which click would print in English (not the help that a
    command without arguments shows instead: NoArgsIsHelpError)."""
    kinds = _kinds(exc)
    return "UsageError" in kinds and "NoArgsIsHelpError" not in kinds


def _typed(param: Any) -> str:
    """An option by its long name (as --help shows it), an argument by its name in capitals (NAME)."""
    if getattr(param, "param_type_name", None) == "option":
        opts: list[str] = list(getattr(param, "opts", None) or [])
        return max(opts, key=len) if opts else str(param.name)
    return str(getattr(param, "name", None) or "?").upper()


def _bad_value(param: Any, exc: BaseException, message: str, lang: Lang) -> str:
    option = _typed(param)
    errors = getattr(exc.__cause__, "errors", None)
    first: dict[str, Any] = errors()[0] if callable(errors) and errors() else {}
    kind, bounds = first.get("type", ""), first.get("ctx") or {}
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if kind in ("greater_than_equal", "less_than_equal") and low is not None and high is not None:
        return _text("bad_range", lang, option=option, low=low, high=high)
    for bound, key in (("ge", "bad_low"), ("le", "bad_high"), ("gt", "bad_above"), ("lt", "bad_below")):
        if bound in bounds:
            return _text(
                key,
                lang,
                option=option,
                **{"low" if key in ("bad_low", "bad_above") else "high": bounds[bound]},
            )
    if kind == "int_parsing":
        return _text("bad_integer", lang, option=option)
    if kind in ("float_parsing", "decimal_parsing"):
        return _text("bad_number", lang, option=option)
    if choices := re.search(r"is not one of (.*)\.$", message):
        listed = re.findall(r"'([^']*)'", choices.group(1))
        return _text("bad_choice", lang, option=option, choices=("、" if lang == "zh" else ", ").join(listed))
    if missing := re.search(r"'(.*)' does not exist", message):
        return _text("no_such_path", lang, option=option, value=missing.group(1))
    return _text("bad_value", lang, option=option, detail=message.rstrip("."))


def usage_line(exc: BaseException, lang: Lang, command: str) -> str:
    """Click's usage error `exc` of `command` (e.g. "mediasrv user create") as one line, with the hint
    to --help."""
    kinds, message = _kinds(exc), str(getattr(exc, "message", exc))
    param = getattr(exc, "param", None)
    if "MissingParameter" in kinds and param is not None:
        said = (
            _text("missing_option", lang, option=_typed(param))
            if getattr(param, "param_type_name", None) == "option"
            else _text("missing_argument", lang, argument=_typed(param))
        )
    elif "NoSuchOption" in kinds:
        option, maybe = getattr(exc, "option_name", "?"), sorted(getattr(exc, "possibilities", None) or ())
        # click offers every close spelling (--rol: --region and --role); the ones the typed text
        # begins, when there are any, are what was meant.
        maybe = [m for m in maybe if m.startswith(option)] or maybe
        said = (
            _text("no_such_option_maybe", lang, option=option, maybe=" / ".join(maybe))
            if maybe
            else _text("no_such_option", lang, option=option)
        )
    elif "BadParameter" in kinds and param is not None:
        said = _bad_value(param, exc, message, lang)
    elif "BadOptionUsage" in kinds and "requires" in message:
        said = _text("needs_value", lang, option=getattr(exc, "option_name", "?"))
    elif match := re.fullmatch(r"No such command '(.*)'\.", message):
        said = _text("no_such_command", lang, name=match.group(1))
    elif match := re.fullmatch(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", message):
        said = _text("extra_arguments", lang, extra=match.group(1))
    else:
        said = _text("other", lang, detail=message.rstrip("."))
    return f"{said}{'' if lang == 'zh' else ' '}{_text('help', lang, command=command)}"


def aborted(lang: Lang) -> str:
    """What a command says when the operator cancels a prompt (Ctrl-C, Ctrl-D)."""
    return _text("aborted", lang)
