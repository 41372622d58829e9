"""Pipelines and stages: `/crm/v3/pipelines/{objectType}[/{pipelineId}[/stages[/{stageId}]]]`.

Per https://developers.hubspot.com/docs/api/crm/pipelines : ids are strings; deal stages need
`metadata.probability` between 0.0 and 1.0 (1.0 closed won, 0.0 closed lost); stage labels are unique
within a pipeline; the default deal pipeline is "Sales Pipeline" with id `default` and `createdAt` 0.
Only deals have pipelines in this sandbox (tickets are not served).

A pipeline input needs `label`, `displayOrder` and `stages`, and each stage input `label`,
`displayOrder` and `metadata`, in which deal stages need `probability` "between 0.0 and 1.0 in
increments of 0.1" (`PipelineInput` / `PipelineStageInput` of the pipelines spec, and
https://developers.hubspot.com/docs/api-reference/legacy/crm/pipelines/stages/create-pipeline-stage ).
A deal stage's `isClosed` follows its probability (1.0 won and 0.0 lost are closed) unless the input
sets it. Adding a stage (`POST .../{pipelineId}/stages`) answers 201 with the stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from healthsync.sandbox.hubspot.errors import OBJECT_NOT_FOUND, VALIDATION_ERROR, api_error
from healthsync.sandbox.hubspot.objects import read_body
from healthsync.sandbox.hubspot.state import EPOCH, HubSpotState, Pipeline, Stage
from healthsync.sandbox.hubspot.store import resolve_type
from healthsync.sandbox.wire import ApiError, Request, Response, Router, json_response

__all__ = ["PipelineRoutes", "default_deal_pipeline", "renewals_pipeline"]

_DEFAULT_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
    ("closedwon", "Closed Won", "1.0"),
    ("closedlost", "Closed Lost", "0.0"),
)
_RENEWAL_STAGES = (
    ("Preparation", "0.2"),
    ("Initiation", "0.4"),
    ("Negotiation", "0.6"),
    ("Approval", "0.8"),
    ("Closed won", "1.0"),
    ("Closed lost", "0.0"),
)


def _meta(probability: str) -> dict[str, str]:
    return {"isClosed": "true" if probability in {"1.0", "0.0"} else "false", "probability": probability}


def default_deal_pipeline() -> Pipeline:
    """HubSpot's built-in "Sales Pipeline"."""
    stages = [
        Stage(sid, label, i, _meta(p), EPOCH, EPOCH) for i, (sid, label, p) in enumerate(_DEFAULT_STAGES)
    ]
    return Pipeline("default", "Sales Pipeline", 0, stages, EPOCH, EPOCH)


def renewals_pipeline(state: HubSpotState, created: datetime) -> Pipeline:
    """healthsync's "Renewals" deal pipeline (what `healthsync fields apply` creates)."""
    pipeline_id = state.next_id()
    stages = [
        Stage(state.next_id(), label, i, _meta(p), created, created)
        for i, (label, p) in enumerate(_RENEWAL_STAGES)
    ]
    return Pipeline(pipeline_id, "Renewals", 1, stages, created, created)


def _bad(message: str) -> ApiError:
    return api_error(400, VALIDATION_ERROR, message)


class PipelineRoutes:
    """Pipeline and stage reads and writes."""

    def __init__(self, state: HubSpotState, vendor: str) -> None:
        self.state = state
        self.vendor = vendor

    def register(self, router: Router) -> None:
        """Stage paths are longer than pipeline paths, so order does not matter here."""
        base = "/crm/v3/pipelines/{objectType}"
        v = self.vendor
        router.add(v, "GET", base, self.list)
        router.add(v, "POST", base, self.create)
        router.add(v, "GET", base + "/{pipelineId}", self.get)
        router.add(v, "PATCH", base + "/{pipelineId}", self.update)
        router.add(v, "DELETE", base + "/{pipelineId}", self.archive)
        router.add(v, "GET", base + "/{pipelineId}/stages", self.list_stages)
        router.add(v, "POST", base + "/{pipelineId}/stages", self.create_stage)
        router.add(v, "GET", base + "/{pipelineId}/stages/{stageId}", self.get_stage)
        router.add(v, "PATCH", base + "/{pipelineId}/stages/{stageId}", self.update_stage)

    def _type(self, request: Request) -> str:
        name = resolve_type(request.params["objectType"]).name
        if name != "deals":
            raise _bad(f"Object type {request.params['objectType']} does not support pipelines")
        return name

    def _stage(self, type_name: str, raw: Any, existing: list[Stage], now: datetime) -> Stage:
        if not isinstance(raw, dict):
            raise _bad("Each stage must be an object with label, displayOrder and metadata")
        _require(raw, ("label", "displayOrder", "metadata"), "stage")
        if not isinstance(raw["metadata"], dict):
            raise _bad("Stage metadata must be an object")
        label = str(raw["label"])
        if any(s.label.casefold() == label.casefold() and not s.archived for s in existing):
            raise _bad(f"Stage labels must be unique within a pipeline: {label!r} is used twice")
        metadata = {str(k): str(v) for k, v in (raw.get("metadata") or {}).items()}
        if type_name == "deals":
            metadata["probability"] = _probability(metadata.get("probability"), label)
            closed = metadata.get("isClosed", str(metadata["probability"] in {"1.0", "0.0"}))
            metadata["isClosed"] = closed.lower()
        return Stage(
            self.state.next_id(), label, _int(raw["displayOrder"], "displayOrder"), metadata, now, now
        )

    def list(self, request: Request) -> Response:
        """Every live pipeline of the object type."""
        type_name = self._type(request)
        with self.state.lock:
            live = [p for p in self.state.pipelines[type_name].values() if not p.archived]
            results = [p.to_json() for p in sorted(live, key=lambda p: (p.display_order, p.label))]
        return json_response({"results": results})

    def create(self, request: Request) -> Response:
        """Create a pipeline with its stages; 201."""
        type_name = self._type(request)
        body = read_body(request)
        _require(body, ("label", "displayOrder", "stages"), "pipeline")
        if not isinstance(body["stages"], list) or not body["stages"]:
            raise _bad("A pipeline needs at least one stage")
        with self.state.lock:
            label = str(body["label"])
            if any(
                p.label.casefold() == label.casefold() and not p.archived
                for p in self.state.pipelines[type_name].values()
            ):
                raise api_error(409, "CONFLICT", f"A pipeline with label {label!r} already exists")
            now = self.state.now()
            stages: list[Stage] = []
            for raw in body["stages"]:
                stages.append(self._stage(type_name, raw, stages, now))
            pipeline = Pipeline(
                self.state.next_id(), label, _int(body["displayOrder"], "displayOrder"), stages, now, now
            )
            self.state.pipelines[type_name][pipeline.id] = pipeline
            return json_response(pipeline.to_json(), 201)

    def get(self, request: Request) -> Response:
        """One pipeline; 404 when unknown."""
        type_name = self._type(request)
        with self.state.lock:
            return json_response(self.state.pipeline(type_name, request.params["pipelineId"]).to_json())

    def update(self, request: Request) -> Response:
        """Change a pipeline's label or display order."""
        type_name = self._type(request)
        body = read_body(request)
        with self.state.lock:
            pipeline = self.state.pipeline(type_name, request.params["pipelineId"])
            pipeline.label = str(body.get("label", pipeline.label))
            pipeline.display_order = int(body.get("displayOrder", pipeline.display_order))
            pipeline.updated_at = self.state.now()
            return json_response(pipeline.to_json())

    def archive(self, request: Request) -> Response:
        """Archive a pipeline (not the default one); 204."""
        type_name = self._type(request)
        with self.state.lock:
            pipeline = self.state.pipeline(type_name, request.params["pipelineId"])
            if pipeline.id == "default":
                raise _bad("The default pipeline cannot be deleted")
            pipeline.archived = True
        return Response(status=204)

    def list_stages(self, request: Request) -> Response:
        """The live stages of a pipeline."""
        type_name = self._type(request)
        with self.state.lock:
            pipeline = self.state.pipeline(type_name, request.params["pipelineId"])
            return json_response({"results": pipeline.to_json()["stages"]})

    def create_stage(self, request: Request) -> Response:
        """Add a stage; 201."""
        type_name = self._type(request)
        body = read_body(request)
        with self.state.lock:
            pipeline = self.state.pipeline(type_name, request.params["pipelineId"])
            stage = self._stage(type_name, body, pipeline.stages, self.state.now())
            pipeline.stages.append(stage)
            pipeline.updated_at = stage.created_at
            return json_response(stage.to_json(), 201)

    def _find_stage(self, type_name: str, request: Request) -> Stage:
        pipeline = self.state.pipeline(type_name, request.params["pipelineId"])
        stage = next(
            (s for s in pipeline.stages if s.id == request.params["stageId"] and not s.archived), None
        )
        if stage is None:
            raise api_error(404, OBJECT_NOT_FOUND, f"Unable to find stage {request.params['stageId']}")
        return stage

    def get_stage(self, request: Request) -> Response:
        """One stage; 404 when unknown."""
        type_name = self._type(request)
        with self.state.lock:
            return json_response(self._find_stage(type_name, request).to_json())

    def update_stage(self, request: Request) -> Response:
        """Change a stage's label, order or metadata."""
        type_name = self._type(request)
        body = read_body(request)
        with self.state.lock:
            stage = self._find_stage(type_name, request)
            stage.label = str(body.get("label", stage.label))
            stage.display_order = int(body.get("displayOrder", stage.display_order))
            if "metadata" in body:
                metadata = {str(k): str(v) for k, v in (body["metadata"] or {}).items()}
                metadata["probability"] = _probability(metadata.get("probability"), stage.label)
                stage.metadata = metadata
            stage.updated_at = self.state.now()
            return json_response(stage.to_json())


def _require(body: dict[str, Any], keys: tuple[str, ...], what: str) -> None:
    missing = [k for k in keys if body.get(k) is None or body.get(k) == ""]
    if missing:
        raise _bad(f"A {what} input is missing required fields: {', '.join(missing)}")


def _int(raw: Any, name: str) -> int:
    if isinstance(raw, bool):
        raise _bad(f"{name} must be an integer, got {raw!r}")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise _bad(f"{name} must be an integer, got {raw!r}") from None


def _probability(raw: str | None, label: str) -> str:
    if raw is None:
        raise _bad(f"Deal stage {label!r} needs metadata.probability (0.0 to 1.0)")
    try:
        value = float(raw)
    except ValueError:
        raise _bad(f"Deal stage {label!r}: probability {raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise _bad(f"Deal stage {label!r}: probability must be between 0.0 and 1.0, got {raw}")
    if abs(value * 10 - round(value * 10)) > 1e-9:
        raise _bad(f"Deal stage {label!r}: probability goes in increments of 0.1, got {raw}")
    return str(round(value, 1))
