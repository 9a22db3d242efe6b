"""The temporal evolution of entities (CIM 009 V1.8.1, clauses 4.5.7-4.5.9, 4.5.19, 4.11, 5.6.11-5.6.16, 5.7.3-5.7.4).

Plain Python between the temporal routes and the history storage:

* the temporal query (clause 4.11: ``timerel`` before / after / between, ``timeAt``,
  ``endTimeAt``, ``timeproperty``; ``lastN``) and the aggregation parameters (clause 4.5.19:
  ``aggrMethods``, ``aggrPeriodDuration`` as an ISO 8601 duration), checked up front;
* request bodies in the temporal representation (clause 4.5.7: every attribute an array of
  instances) to stored instances;
* the three output forms: the temporal representation (clause 4.5.7, each instance with its
  ``instanceId``), the simplified one (``temporalValues``, clause 4.5.9: ``[value, time]`` pairs)
  and the aggregated one (``aggregatedValues``, clause 4.5.19: ``[result, start, end]``);
* the pagination of long histories (clause 6.3.10, temporal pagination): at most a set number
  of instances per attribute, the rest announced by a ``Content-Range: date-time`` header.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from mims.context.ngsild.attributes import SYSTEM_MEMBERS, VOCAB_PROPERTY, AttributeNormalizer, is_datetime
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.entity import ENTITY_MEMBERS, normalize_entity
from mims.context.ngsild.errors import BadRequestData
from mims.context.ngsild.params import names, representation
from mims.context.ngsild.render import KEY_VALUES, NONE_DATASET, Representation, render_entity
from mims.context.storage.temporal import InstanceFilter, TemporalEntity
from mims.kit.problems import ProblemItem

TIMERELS = ("before", "after", "between")
TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")
AGGREGATION_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
TEMPORAL, TEMPORAL_VALUES, AGGREGATED_VALUES = "temporal", "temporalValues", "aggregatedValues"
#: Clause 4.5.9: the member listing [content, time] pairs, per attribute type.
SIMPLIFIED_MEMBER = {
    "Property": "values",
    "GeoProperty": "values",
    "Relationship": "objects",
    "LanguageProperty": "languageMaps",
    "VocabProperty": "vocabs",
    "JsonProperty": "jsons",
    "ListProperty": "valueLists",
    "ListRelationship": "objectLists",
}
_CONTENT_MEMBERS = ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")
_ENTITY_OUTPUT = ("id", "type", "scope", "createdAt", "modifiedAt")
_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W|(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?)"
)
MAX_LAST_N = 10_000
MAX_PERIODS = 100_000


@dataclass(frozen=True, slots=True)
class Duration:
    """An ISO 8601 duration (clause 4.5.19): calendar months plus an exact time span."""

    months: int
    span: timedelta

    @property
    def is_zero(self) -> bool:
        """A zero duration asks for one period spanning the whole time range."""
        return self.months == 0 and not self.span

    def after(self, moment: datetime) -> datetime:
        """``moment`` plus this duration; month arithmetic clamps the day (31 January + P1M = 28/29 February)."""
        if self.months:
            index = moment.year * 12 + moment.month - 1 + self.months
            year, month = divmod(index, 12)
            month += 1
            days = (datetime(year + month // 12, month % 12 + 1, 1) - datetime(year, month, 1)).days
            moment = moment.replace(year=year, month=month, day=min(moment.day, days))
        return moment + self.span


def parse_duration(text: str) -> Duration:
    """``P[n]Y[n]M[n]DT[n]H[n]M[n]S`` or ``P[n]W`` (clause 4.5.19); 400 BadRequestData otherwise."""
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise BadRequestData(f"aggrPeriodDuration {text!r} is not an ISO 8601 duration like P1D, PT1H or P1W.")
    parts = {key: value for key, value in match.groupdict().items() if value is not None}
    months = int(parts.get("years", 0)) * 12 + int(parts.get("months", 0))
    span = timedelta(
        weeks=int(parts.get("weeks", 0)),
        days=int(parts.get("days", 0)),
        hours=int(parts.get("hours", 0)),
        minutes=int(parts.get("minutes", 0)),
        seconds=float(parts.get("seconds", "0").replace(",", ".")),
    )
    return Duration(months, span)


@dataclass(frozen=True, slots=True)
class TemporalRequest:
    """What a temporal retrieval or query asks for, every name already expanded."""

    timerel: str | None
    time_at: datetime | None
    end_time_at: datetime | None
    time_member: str
    last_n: int | None
    format: str
    methods: tuple[str, ...]
    period: Duration
    how: Representation

    def instance_filter(self) -> InstanceFilter:
        """The storage read for this request (clause 4.11: before is ``<``, after ``>``, between ``[start, end)``)."""
        start = end = None
        if self.timerel == "before":
            end = self.time_at
        elif self.timerel == "after":
            start = self.time_at
        elif self.timerel == "between":
            start, end = self.time_at, self.end_time_at
        return InstanceFilter(
            attributes=self.how.attrs,
            time_member=self.time_member,
            start=start,
            start_inclusive=self.timerel == "between",
            end=end,
        )


def temporal_request(params: Mapping[str, Any], context: ActiveContext) -> TemporalRequest:
    """The checked temporal query, aggregation, format and projection of a request."""
    timerel = params.get("timerel")
    time_at = _instant(params.get("timeAt"), "timeAt")
    end_time_at = _instant(params.get("endTimeAt"), "endTimeAt")
    if timerel is not None and timerel not in TIMERELS:
        raise BadRequestData(f"timerel must be one of {', '.join(TIMERELS)}; got {timerel!r}.")
    if timerel is not None and time_at is None:
        raise BadRequestData(f"timerel={timerel} needs timeAt.")
    if timerel is None and time_at is not None:
        raise BadRequestData("timeAt needs timerel (before, after or between).")
    if timerel == "between":
        if end_time_at is None:
            raise BadRequestData("timerel=between needs endTimeAt.")
        assert time_at is not None
        if end_time_at <= time_at:
            raise BadRequestData("endTimeAt must be later than timeAt.")
    elif end_time_at is not None:
        raise BadRequestData("endTimeAt is only meaningful with timerel=between.")
    time_member = params.get("timeproperty") or "observedAt"
    if time_member not in TIME_PROPERTIES:
        raise BadRequestData(f"timeproperty must be one of {', '.join(TIME_PROPERTIES)}; got {time_member!r}.")
    chosen, rest = _format(params)
    how = representation(rest, context)
    if chosen == TEMPORAL and how.format == KEY_VALUES:
        chosen = TEMPORAL_VALUES  # the simplified temporal representation (clause 4.5.9)
    methods = tuple(names(params.get("aggrMethods"), "aggrMethods") or ())
    unknown = sorted(set(methods) - set(AGGREGATION_METHODS))
    if unknown:
        raise BadRequestData(f"Unknown aggrMethods {', '.join(unknown)}; supported: {', '.join(AGGREGATION_METHODS)}.")
    if chosen == AGGREGATED_VALUES and not methods:
        raise BadRequestData("The aggregated temporal representation needs aggrMethods.")
    period = parse_duration(params.get("aggrPeriodDuration") or "PT0S")
    return TemporalRequest(
        timerel=timerel,
        time_at=time_at,
        end_time_at=end_time_at,
        time_member=time_member,
        last_n=_last_n(params.get("lastN")),
        format=chosen,
        methods=tuple(dict.fromkeys(methods)),
        period=period,
        how=how,
    )


def _instant(value: str | None, parameter: str) -> datetime | None:
    if value is None:
        return None
    if not is_datetime(value):
        raise BadRequestData(f"{parameter} must be an ISO 8601 date-time with a time zone, e.g. 2026-01-01T00:00:00Z; got {value!r}.")
    return datetime.fromisoformat(value).astimezone(UTC)


def _last_n(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) <= MAX_LAST_N:
        raise BadRequestData(f"lastN must be an integer from 1 to {MAX_LAST_N}; got {value!r}.")
    return int(value)


def _format(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The temporal format from ``format`` or ``options``, and the parameters left for :func:`representation`."""
    rest = dict(params)
    options = names(params.get("options"), "options") or []
    temporal_options = [option for option in options if option in (TEMPORAL_VALUES, AGGREGATED_VALUES)]
    kept = [option for option in options if option not in temporal_options]
    if kept:
        rest["options"] = ",".join(kept)
    else:
        rest.pop("options", None)
    chosen = params.get("format")
    if chosen in (TEMPORAL_VALUES, AGGREGATED_VALUES):
        rest.pop("format")
        return chosen, rest
    if len(set(temporal_options)) > 1:
        raise BadRequestData("options cannot ask for both temporalValues and aggregatedValues.")
    return (temporal_options[0] if temporal_options else TEMPORAL), rest


def normalize_temporal_entity(body: Any, context: ActiveContext, now: str) -> dict[str, Any]:
    """The stored form of an entity in the temporal representation (clause 4.5.7), every problem at once."""
    if not isinstance(body, Mapping):
        raise BadRequestData("A temporal entity must be a JSON object.", errors=[ProblemItem("", "expected a JSON object")])
    normalizer = AttributeNormalizer(context, now)
    attributes = _attributes(body, normalizer)
    base = {key: value for key, value in body.items() if key in ENTITY_MEMBERS}
    try:
        entity = normalize_entity(base, context, now)
    except BadRequestData as error:
        raise BadRequestData(error.detail, errors=[*error.errors, *normalizer.problems]) from None
    _raise_problems(normalizer)
    entity["attributes"] = attributes
    return entity


def normalize_temporal_fragment(body: Any, context: ActiveContext, now: str) -> dict[str, list[dict[str, Any]]]:
    """Attributes in the temporal representation, as Add Attributes (clause 5.6.12) sends them."""
    if not isinstance(body, Mapping):
        raise BadRequestData("The attributes must be a JSON object.", errors=[ProblemItem("", "expected a JSON object")])
    normalizer = AttributeNormalizer(context, now)
    attributes = _attributes(body, normalizer)
    _raise_problems(normalizer)
    if not attributes:
        raise BadRequestData("The body names no attribute.")
    return attributes


def normalize_instance(body: Any, attribute: str, context: ActiveContext, now: str) -> dict[str, Any]:
    """The new content of one instance of ``attribute`` (an expanded IRI), as clause 5.6.14 sends it:
    a fragment whose only member is the attribute."""
    if not isinstance(body, Mapping) or len([key for key in body if key != "@context"]) != 1:
        raise BadRequestData("The body must be an object with exactly one member: the attribute.")
    normalizer = AttributeNormalizer(context, now)
    name, raw = next((key, value) for key, value in body.items() if key != "@context")
    iri = normalizer.attribute_iri(name, f"/{name}")
    instance = normalizer.instance(name, raw, f"/{name}", 0) if iri is not None else None
    _raise_problems(normalizer)
    if iri != attribute:
        raise BadRequestData(f"The body changes attribute {name!r}, not the one the path names.")
    assert instance is not None
    return instance


def _attributes(body: Mapping[str, Any], normalizer: AttributeNormalizer) -> dict[str, list[dict[str, Any]]]:
    """Every attribute member as stored instances; an array lists instances over time, so a
    datasetId may repeat (unlike clause 4.5.5 for the current state)."""
    result: dict[str, list[dict[str, Any]]] = {}
    for name, raw in body.items():
        if name in ENTITY_MEMBERS or name in SYSTEM_MEMBERS:
            continue
        pointer = f"/{name}"
        iri = normalizer.attribute_iri(name, pointer)
        if iri is None:
            continue
        if raw == []:
            normalizer.problem(pointer, f"attribute {name!r} lists no instances")
            continue
        result.setdefault(iri, []).extend(normalizer.instances(name, raw, pointer, 0))
    return result


def _raise_problems(normalizer: AttributeNormalizer) -> None:
    if normalizer.problems:
        first = normalizer.problems[0]
        more = f" (and {len(normalizer.problems) - 1} more; see errors)" if len(normalizer.problems) > 1 else ""
        raise BadRequestData(f"{first.pointer or '/'}: {first.detail}{more}.", errors=normalizer.problems)


def instance_time(instance: Mapping[str, Any], time_member: str) -> str:
    """The instant an instance stands at: its ``time_member``, else when it was last modified."""
    return instance.get(time_member) or instance["modifiedAt"]


@dataclass(frozen=True, slots=True)
class TemporalPage:
    """Rendered temporal entities and, when histories were cut, the ``Content-Range`` to announce."""

    entities: list[dict[str, Any]]
    content_range: str | None


def render_temporal(
    found: list[TemporalEntity], context: ActiveContext, request: TemporalRequest, max_instances: int
) -> TemporalPage:
    """The entities in the form ``request`` asks for, each history cut to ``max_instances`` (clause 6.3.10)."""
    content_range = _paginate(found, request, max_instances)
    if request.format == TEMPORAL:
        return TemporalPage([_render_instances(entity, context, request.how) for entity in found], content_range)
    rendered = []
    for entity in found:
        body = render_entity({**entity.doc, "attributes": {}}, context, request.how)
        for iri, instances in entity.instances.items():
            if not _selected(iri, request.how):
                continue
            groups = _by_dataset(instances, request.how)
            if not groups:
                continue
            if request.format == TEMPORAL_VALUES:
                items = [_simplified(dataset, group, context, request.time_member) for dataset, group in groups.items()]
            else:
                items = [_aggregated(dataset, group, request) for dataset, group in groups.items()]
            body[context.compact_iri(iri)] = items[0] if len(items) == 1 else items
        rendered.append(body)
    return TemporalPage(rendered, content_range)


def _render_instances(entity: TemporalEntity, context: ActiveContext, how: Representation) -> dict[str, Any]:
    """Clause 4.5.7: each attribute as the array of its instances, rendered like current attributes."""
    body = render_entity({**entity.doc, "attributes": entity.instances}, context, how)
    for key, value in body.items():
        if key not in _ENTITY_OUTPUT and not isinstance(value, list):
            body[key] = [value]
    return body


def _selected(iri: str, how: Representation) -> bool:
    if how.pick is not None and iri not in how.pick:
        return False
    return how.omit is None or iri not in how.omit


def _by_dataset(instances: list[dict[str, Any]], how: Representation) -> dict[str | None, list[dict[str, Any]]]:
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for instance in instances:
        dataset = instance.get("datasetId")
        if how.dataset_ids is None or (dataset or NONE_DATASET) in how.dataset_ids:
            groups.setdefault(dataset, []).append(instance)
    return groups


def _content(instance: Mapping[str, Any], context: ActiveContext) -> Any:
    value = _any_content(instance)
    if instance["type"] == VOCAB_PROPERTY and "deletedAt" not in instance:
        return [context.compact_iri(item) for item in value] if isinstance(value, list) else context.compact_iri(value)
    return value


def _simplified(dataset: str | None, instances: list[dict[str, Any]], context: ActiveContext, time_member: str) -> dict[str, Any]:
    """Clause 4.5.9: ``{"type": ..., "values": [[value, time], ...]}`` (``objects``, ``languageMaps``, ... by type)."""
    kind = instances[-1]["type"]
    entry: dict[str, Any] = {"type": kind}
    entry[SIMPLIFIED_MEMBER[kind]] = [[_content(item, context), instance_time(item, time_member)] for item in instances]
    if dataset is not None:
        entry["datasetId"] = dataset
    return entry


def _aggregated(dataset: str | None, instances: list[dict[str, Any]], request: TemporalRequest) -> dict[str, Any]:
    """Clause 4.5.19: per method, ``[result, periodStart, periodEnd]`` for every period holding instances.

    Periods of ``aggrPeriodDuration`` start at ``timeAt`` (timerel after / between) or at the first
    instance; a zero duration makes one period over the whole range. Deletions carry no value and
    are left out; sum, avg, stddev and sumsq use numeric values, min and max numbers (else strings).
    """
    kind = instances[-1]["type"]
    entry: dict[str, Any] = {"type": kind, **{method: [] for method in request.methods}}
    timed = [
        (datetime.fromisoformat(instance_time(item, request.time_member)).astimezone(UTC), _any_content(item))
        for item in instances
        if "deletedAt" not in item
    ]
    if timed:
        for start, end, values in _periods(timed, request):
            for method in request.methods:
                result = aggregate(method, values)
                if result is not None:
                    entry[method].append([result, _text(start), _text(end)])
    if dataset is not None:
        entry["datasetId"] = dataset
    return entry


def _any_content(instance: Mapping[str, Any]) -> Any:
    return next(instance[member] for member in _CONTENT_MEMBERS if member in instance)


def _periods(timed: list[tuple[datetime, Any]], request: TemporalRequest) -> list[tuple[datetime, datetime, list[Any]]]:
    first, last = timed[0][0], timed[-1][0]
    start = request.time_at if request.timerel in ("after", "between") and request.time_at else first
    if request.timerel == "between" and request.end_time_at:
        end = request.end_time_at
    elif request.timerel == "before" and request.time_at:
        end = request.time_at
    else:
        end = last
    if request.period.is_zero:
        return [(start, end, [value for _, value in timed])]
    buckets: dict[datetime, tuple[datetime, list[Any]]] = {}
    locate = _locator(start, request.period)
    for moment, value in timed:
        period_start, period_end = locate(moment)
        buckets.setdefault(period_start, (period_end, []))[1].append(value)
    return [(period_start, period_end, values) for period_start, (period_end, values) in buckets.items()]


def _locator(start: datetime, period: Duration) -> Callable[[datetime], tuple[datetime, datetime]]:
    """The period (start, end) holding a moment; exact spans by arithmetic, calendar ones by stepping."""
    if not period.months:
        def exact(moment: datetime) -> tuple[datetime, datetime]:
            index = math.floor((moment - start) / period.span)
            period_start = start + index * period.span
            return period_start, period_start + period.span
        return exact

    def calendar(moment: datetime) -> tuple[datetime, datetime]:
        period_start = start
        for _ in range(MAX_PERIODS):
            period_end = period.after(period_start)
            if moment < period_end:
                return period_start, period_end
            period_start = period_end
        raise BadRequestData(f"aggrPeriodDuration makes more than {MAX_PERIODS} periods; ask for a longer one.")
    return calendar


def aggregate(method: str, values: list[Any]) -> Any:
    """One aggregation method of clause 4.5.19 over the values of a period; ``None`` when it does not apply.

    ``stddev`` is the sample standard deviation (0 for a single value).
    """
    if method == "totalCount":
        return len(values)
    if method == "distinctCount":
        return len({orjson.dumps(value, option=orjson.OPT_SORT_KEYS) for value in values})
    numbers = [value for value in values if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if method in ("min", "max"):
        candidates: list[Any] = numbers or [value for value in values if isinstance(value, str)]
        if not candidates:
            return None
        return min(candidates) if method == "min" else max(candidates)
    if not numbers:
        return None
    if method == "sum":
        return sum(numbers)
    if method == "avg":
        return sum(numbers) / len(numbers)
    if method == "sumsq":
        return sum(number * number for number in numbers)
    return statistics.stdev(numbers) if len(numbers) > 1 else 0.0


def _text(moment: datetime) -> str:
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return moment.astimezone(UTC).strftime(pattern)


def _paginate(found: list[TemporalEntity], request: TemporalRequest, max_instances: int) -> str | None:
    """Apply ``lastN`` and cut long histories in place (clause 6.3.10); the ``Content-Range`` if any was cut.

    Every (attribute, datasetId) history holds at most ``max_instances`` instances. Histories are
    cut at one common instant so the next page starts where this one ends: the oldest instances
    come first, unless ``lastN`` asks for the most recent ones, when the cut runs backwards. The
    header reads ``date-time <first>-<last>/<size>``, the size being ``lastN`` or ``*``.
    """
    def time_of(instance: Mapping[str, Any]) -> datetime:
        return datetime.fromisoformat(instance_time(instance, request.time_member))

    histories = [
        (entity, iri, [item for item in instances if item.get("datasetId") == dataset])
        for entity in found
        for iri, instances in entity.instances.items()
        for dataset in dict.fromkeys(item.get("datasetId") for item in instances)
    ]
    wanted = min(request.last_n, max_instances) if request.last_n else max_instances
    kept = [(entity, iri, history[-wanted:] if request.last_n else history[:wanted]) for entity, iri, history in histories]
    cut_histories = [history for (_, _, history), (_, _, full) in zip(kept, histories, strict=True) if len(full) > len(history)]
    truncated = request.last_n is None or request.last_n > max_instances
    cut: datetime | None = None
    if cut_histories and truncated:
        if request.last_n:
            cut = max(time_of(history[0]) for history in cut_histories)
        else:
            cut = min(time_of(history[-1]) for history in cut_histories)
    for entity in found:
        entity.instances = {}
    moments: list[datetime] = []
    for entity, iri, history in kept:
        if cut is not None:
            history = [item for item in history if (time_of(item) >= cut if request.last_n else time_of(item) <= cut)]
        if history:
            entity.instances.setdefault(iri, []).extend(history)
            moments += [time_of(history[0]), time_of(history[-1])]
    for entity in found:
        for instances in entity.instances.values():
            instances.sort(key=time_of)
    if cut is None or not moments:
        return None
    if request.last_n:
        return f"date-time {_text(max(moments))}-{_text(cut)}/{request.last_n}"
    first = request.time_at if request.timerel in ("after", "between") and request.time_at else min(moments)
    return f"date-time {_text(first)}-{_text(cut)}/*"
