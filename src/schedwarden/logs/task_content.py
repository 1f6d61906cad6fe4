"""Security 4698/4699/4700/4701/4702 TaskContent(New) → a `ScheduledJob`, through the same task-XML
parser the Windows collector uses, so that events and inventory rules see the same job shape."""

from __future__ import annotations

from functools import lru_cache

from ..collectors.windows.definition import (
    TaskDefinition,
    maintenance_trigger,
    schedule_of,
    task_job_id,
)
from ..collectors.windows.safexml import XmlProblem
from ..collectors.windows.task_xml import parse_task_xml
from ..model import (
    TECHNIQUE_OF_MECHANISM,
    Effective,
    Evidence,
    Mechanism,
    ScheduledJob,
)

MECHANISM = Mechanism.WINDOWS_TASK


@lru_cache(maxsize=4096)
def _parsed(content: str) -> tuple[TaskDefinition, tuple[str, ...]] | XmlProblem:
    """One parse per distinct TaskContent (a 4698 and its 4699 carry the same XML)."""
    try:
        definition, problems, _ = parse_task_xml(content.encode("utf-8", "surrogateescape"))
    except XmlProblem as problem:
        return problem
    return definition, tuple(problems)


def task_from_content(name: str, content: str, evidence: Evidence) -> ScheduledJob | XmlProblem:
    """The task a Security event carried, as a job, or why its XML could not be read."""
    parsed = _parsed(content)
    if isinstance(parsed, XmlProblem):
        return parsed
    definition, problems = parsed
    triggers = definition.triggers
    implicit = maintenance_trigger(definition.settings) if not triggers else None
    if implicit is not None:
        triggers = (implicit,)
    schedule = schedule_of(triggers)
    principal = definition.principal
    run_as = principal.run_as if principal else None
    extra: dict[str, object] = {"stores": ["event"]}
    if definition.registration:
        extra["registration"] = dict(definition.registration)
    if principal is not None:
        extra["principal"] = principal.as_dict()
    if problems:
        extra["xml_problems"] = list(problems)
    return ScheduledJob(
        job_id=task_job_id(name, definition.actions, run_as, schedule),
        mechanism=MECHANISM,
        technique=TECHNIQUE_OF_MECHANISM[MECHANISM],
        name=name,
        run_as=run_as,
        schedule=schedule,
        actions=definition.actions,
        effective=Effective(None, "seen in a log event; the host's current state is unknown"),
        evidence=evidence,
        enabled=definition.enabled,
        hidden=definition.hidden,
        raw=content,
        extra=extra,
    )
