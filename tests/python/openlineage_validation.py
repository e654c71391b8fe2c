"""Validate OpenLineage JSON events against the OpenLineage client's own models.

The client ships the spec as attrs classes (openlineage.client.event_v2 and the generated
facet modules), with validators for run ids, times and URLs, but no parser. `run_event`
builds those classes from an event's JSON, strictly: an unknown key or a wrong type raises,
and the rebuilt event must serialise back to exactly the JSON it came from, so the
schemaURL each facet carries is also the one its class declares.
"""

import types
import typing
from enum import Enum
from typing import Any

import attr
from openlineage.client.event_v2 import RunEvent
from openlineage.client.facet_v2 import (
    BaseFacet,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    datasource_dataset,
    documentation_dataset,
    job_type_job,
    parent_run,
    processing_engine_run,
    schema_dataset,
    sql_job,
    tags_run,
)
from openlineage.client.serde import Serde

# The spec's standard facets, by the key they are filed under.
STANDARD_FACETS: dict[str, type] = {
    "parent": parent_run.ParentRunFacet,
    "tags": tags_run.TagsRunFacet,
    "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
    "jobType": job_type_job.JobTypeJobFacet,
    "sql": sql_job.SQLJobFacet,
    "schema": schema_dataset.SchemaDatasetFacet,
    "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet,
    "dataSource": datasource_dataset.DatasourceDatasetFacet,
    "documentation": documentation_dataset.DocumentationDatasetFacet,
    "dataQualityAssertions": data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet,
}


class InvalidEvent(ValueError):
    pass


def _facets(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidEvent(f"{where}: facets must be an object")
    built: dict[str, Any] = {}
    for name, facet in value.items():
        if name in STANDARD_FACETS:
            built[name] = _build(STANDARD_FACETS[name], facet, f"{where}.{name}")
        elif not (
            isinstance(facet, dict)
            and isinstance(facet.get("_producer"), str)
            and isinstance(facet.get("_schemaURL"), str)
        ):
            # a custom facet (dbt's own): the spec asks only for _producer and _schemaURL
            raise InvalidEvent(f"{where}.{name}: a facet needs _producer and _schemaURL")
        else:
            built[name] = facet
    return built


def _value(kind: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (kind,) = [arg for arg in args if arg is not type(None)]
        return _value(kind, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise InvalidEvent(f"{where}: expected a list")
        return [_value(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if isinstance(args[1], type) and issubclass(args[1], BaseFacet):
            return _facets(value, where)
        if not isinstance(value, dict):
            raise InvalidEvent(f"{where}: expected an object")
        return {k: _value(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    if attr.has(kind):
        return _build(kind, value, where)
    if kind is Any:
        return value
    if kind is float and isinstance(value, int):
        return value
    if not isinstance(value, kind):
        raise InvalidEvent(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _build(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise InvalidEvent(f"{where}: expected an object for {cls.__name__}")
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in attr.fields(cls)}
    arguments = {}
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            raise InvalidEvent(f"{where}: {cls.__name__} has no field {key!r}")
        if not field.init:  # schemaURL: set by the class itself, compared on the way back
            continue
        arguments[field.alias] = _value(hints[field.name], item, f"{where}.{key}")
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as error:
        raise InvalidEvent(f"{where}: {cls.__name__}: {error}") from error


def _without_empty(value: Any) -> Any:
    """Drop nulls and empty objects: an absent facet map and an empty one say the same."""
    if isinstance(value, dict):
        kept = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item is not None and item != {}}
    if isinstance(value, list):
        return [_without_empty(item) for item in value]
    return value


def run_event(event: dict[str, Any]) -> RunEvent:
    """The client's RunEvent for this JSON event; InvalidEvent names what does not fit."""
    built = _build(RunEvent, event, "event")
    if _without_empty(Serde.to_dict(built)) != _without_empty(event):
        raise InvalidEvent(
            f"event {event.get('eventType')} {event.get('job', {}).get('name')}: "
            "does not round-trip through the client's models"
        )
    return built
