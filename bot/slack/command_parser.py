"""`/incident …` text → a typed command. Pure: every refusal says what was wrong and the right form."""

from __future__ import annotations

from dataclasses import dataclass

from bot.render.help import ALL_USAGES, USAGE
from bot.slack_ids import STORED_ID_MAX, fits_storage, mentioned_user
from domain import DEFAULT_SEVERITY, IncidentValidationError, ListFilter, Severity, Status
from domain.incident_lifecycle import VERB_TARGETS
from domain.stats import DEFAULT_STATS_WINDOW, StatsWindow, parse_stats_window
from domain.validation import (
    looks_like_severity,
    parse_incident_id,
    parse_list_filter,
    parse_severity,
    validate_note,
    validate_title,
)


def slack_unescape(text: str) -> str:
    """Slack sends `&`, `<`, `>` typed by the user as entities; store what the user typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class CommandUsageError(IncidentValidationError):
    """Input that does not parse; carries the right form of the subcommand."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Declare:
    title: str
    severity: Severity


@dataclass(frozen=True, slots=True)
class OpenDeclareModal:
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class ListIncidents:
    list_filter: ListFilter = ListFilter.ACTIVE
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class Show:
    incident_id: int


@dataclass(frozen=True, slots=True)
class Transition:
    incident_id: int
    target: Status
    note: str | None = None
    verb: str = ""


@dataclass(frozen=True, slots=True)
class ChangeSeverity:
    incident_id: int
    severity: Severity


@dataclass(frozen=True, slots=True)
class Assign:
    incident_id: int
    commander_id: str


@dataclass(frozen=True, slots=True)
class AddNote:
    incident_id: int
    text: str


@dataclass(frozen=True, slots=True)
class Timeline:
    incident_id: int


@dataclass(frozen=True, slots=True)
class Stats:
    window: StatsWindow = DEFAULT_STATS_WINDOW


Command = (
    Help
    | Declare
    | OpenDeclareModal
    | ListIncidents
    | Show
    | Transition
    | ChangeSeverity
    | Assign
    | AddNote
    | Timeline
    | Stats
)


def _split(text: str, parts: int) -> list[str]:
    return text.split(None, parts) if text else []


def _take_id(rest: str, usage_key: str, channel_incident: int | None) -> tuple[int, str]:
    """The incident id the arguments start with, and the rest. Typed in an incident's own channel
    (`channel_incident`, SPEC §12), the id may be left out: a first word that is not an id is the rest."""
    words = _split(rest, 1)
    if not words:
        if channel_incident is None:
            raise CommandUsageError("Which incident? The id is missing.", USAGE[usage_key])
        return channel_incident, ""
    try:
        return parse_incident_id(words[0]), words[1] if len(words) > 1 else ""
    except IncidentValidationError as exc:
        if channel_incident is None:
            raise CommandUsageError(str(exc), USAGE[usage_key]) from None
        return channel_incident, rest


def _with_usage(usage_key: str, exc: IncidentValidationError) -> CommandUsageError:
    return CommandUsageError(str(exc), USAGE[usage_key])


def parse_command(text: str, *, channel_incident: int | None = None) -> Command:
    """Parse the text Slack sends; entities are undone first, so titles and echoes read as typed.

    `channel_incident`: the incident whose own channel the command was typed in, if any."""
    words = _split(slack_unescape(text).strip(), 1)
    if not words or words[0].lower() == "help":
        return Help()
    verb, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
    if verb in ("new", "declare"):
        return _parse_declare(rest)
    if verb == "list":
        return _parse_list(rest)
    if verb in ("show", "timeline"):
        incident_id, more = _take_id(rest, verb, channel_incident)
        if more.strip():
            raise CommandUsageError(f"`{verb}` takes only an id.", USAGE[verb])
        return Show(incident_id) if verb == "show" else Timeline(incident_id)
    if verb in VERB_TARGETS:
        incident_id, more = _take_id(rest, "status", channel_incident)
        try:
            note = validate_note(more) if more else None
        except IncidentValidationError as exc:
            raise _with_usage("status", exc) from None
        return Transition(incident_id, VERB_TARGETS[verb], note or None, verb)
    if verb == "sev":
        incident_id, more = _take_id(rest, "sev", channel_incident)
        args = more.split()
        if len(args) != 1:
            raise CommandUsageError("Give exactly one new severity.", USAGE["sev"])
        try:
            return ChangeSeverity(incident_id, parse_severity(args[0]))
        except IncidentValidationError as exc:
            raise _with_usage("sev", exc) from None
    if verb == "assign":
        incident_id, more = _take_id(rest, "assign", channel_incident)
        args = more.split()
        commander = mentioned_user(args[0]) if len(args) == 1 else None
        if commander is None:
            raise CommandUsageError("Name the commander as a mention, like @jane.", USAGE["assign"])
        if not fits_storage(commander):
            raise CommandUsageError(
                f"That user id is {len(commander)} characters; this app stores ids of up to {STORED_ID_MAX}.",
                USAGE["assign"],
            )
        return Assign(incident_id, commander)
    if verb == "note":
        incident_id, more = _take_id(rest, "note", channel_incident)
        try:
            return AddNote(incident_id, validate_note(more, required=True))
        except IncidentValidationError as exc:
            raise _with_usage("note", exc) from None
    if verb == "stats":
        return _parse_stats(rest)
    shown = words[0][:30]
    # SPEC §4: the list of subcommands itself, not only a pointer to help.
    raise CommandUsageError(f"`{shown}` is not a subcommand. Try `/incident help`.", ALL_USAGES)


def _parse_declare(rest: str) -> Declare | OpenDeclareModal:
    words = _split(rest, 1)
    severity: Severity | None = None
    title_raw = rest  # the whole rest is the title unless a severity comes first
    if words and looks_like_severity(words[0]):
        try:
            severity = parse_severity(words[0])
        except IncidentValidationError as exc:
            raise _with_usage("new", exc) from None
        title_raw = words[1] if len(words) > 1 else ""
    if not title_raw.strip():
        return OpenDeclareModal(severity)
    try:
        title = validate_title(title_raw)
    except IncidentValidationError as exc:
        raise _with_usage("new", exc) from None
    return Declare(title, severity or DEFAULT_SEVERITY)


def _parse_stats(rest: str) -> Stats:
    args = rest.split()
    if len(args) > 1:
        raise CommandUsageError("`stats` takes at most one window.", USAGE["stats"])
    try:
        return Stats(parse_stats_window(args[0]) if args else DEFAULT_STATS_WINDOW)
    except IncidentValidationError as exc:
        raise _with_usage("stats", exc) from None


def _parse_list(rest: str) -> ListIncidents:
    list_filter: ListFilter | None = None
    severity: Severity | None = None
    for word in rest.split():
        try:
            if looks_like_severity(word) and severity is None:
                severity = parse_severity(word)
            elif list_filter is None and not looks_like_severity(word):
                list_filter = parse_list_filter(word)
            else:
                raise CommandUsageError(f"`{word[:30]}` was not expected here.", USAGE["list"])
        except CommandUsageError:
            raise
        except IncidentValidationError as exc:
            raise _with_usage("list", exc) from None
    return ListIncidents(list_filter or ListFilter.ACTIVE, severity)
