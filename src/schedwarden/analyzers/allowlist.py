"""Application allowlisting for scheduled jobs: a YAML policy of approved jobs.

    schema: schedwarden.allowlist/1
    jobs:
      - mechanism: cron                  # required
        path: /etc/cron.d/certbot        # the definition file (a glob)
        name: ...                        # the job's name (a glob), for tasks, timers, CronJobs
        command: "test -x ... renew"     # the command line (a glob, or a list: one per action)
        run_as: root
        targets:                         # sha256 of the files the job runs, when approved
          /usr/bin/certbot: 3f5c...
        silence: [SCHEDULE_EVERY_MINUTE] # rules not reported for this job ("*": all)
        note: renewal of TLS certificates

Globs know one wildcard, `*` (any text, also `/`); everything else is literal, so commands and
Windows paths need no escaping. Windows task fields compare without regard to case. A job is on
the list when every field an entry gives matches it; `audit --allowlist FILE` reports every job
that is not (`NOT_ALLOWLISTED`, saying which field of the closest entry differs) and drops the
silenced findings of jobs that are. `schedwarden allowlist init` writes a policy from a host or
image that is known to be good.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ..model import ExecAction, Finding, Issue, Mechanism, ScheduledJob, Severity, json_safe
from .base import Analyzer, for_dormant
from .context import EMPTY_CONTEXT, AnalysisContext, PathFact
from .privilege import wanted_paths

SCHEMA = "schedwarden.allowlist/1"
ALL_RULES = "*"
FIELDS = ("mechanism", "name", "path", "command", "run_as", "targets", "silence", "note")
CASE_INSENSITIVE = frozenset({Mechanism.WINDOWS_TASK})
TABLE_MECHANISMS = frozenset({Mechanism.CRON, Mechanism.ANACRON})
MAX_ENTRIES = 100_000


class AllowlistError(ValueError):
    """The policy file cannot be used (the audit stops: a half-read allowlist would lie)."""


@dataclass(frozen=True, slots=True)
class AllowEntry:
    number: int
    mechanism: str
    name: str | None = None
    path: str | None = None
    commands: tuple[str, ...] | None = None
    run_as: str | None = None
    targets: Mapping[str, str] = field(default_factory=dict)
    silence: frozenset[str] = frozenset()
    note: str | None = None

    @property
    def label(self) -> str:
        return f"entry {self.number} ({self.name or self.path or self.mechanism})"


@dataclass(frozen=True, slots=True)
class Allowlist:
    origin: str
    entries: tuple[AllowEntry, ...]


# ---------------------------------------------------------------------------------------------
# reading and writing


def parse_allowlist(text: str, origin: str) -> Allowlist:
    import yaml  # only with a policy: every audit and hunt imports this module

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AllowlistError(f"{origin}: not YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("jobs"), list):
        raise AllowlistError(f"{origin}: expected a mapping with a `jobs:` list")
    schema = document.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise AllowlistError(f"{origin}: schema {schema!r} is not {SCHEMA}")
    raw = document["jobs"]
    if len(raw) > MAX_ENTRIES:
        raise AllowlistError(f"{origin}: more than {MAX_ENTRIES} entries")
    return Allowlist(origin, tuple(_entry(origin, i, item) for i, item in enumerate(raw, 1)))


def _entry(origin: str, number: int, item: object) -> AllowEntry:
    where = f"{origin}: entry {number}"
    if not isinstance(item, Mapping):
        raise AllowlistError(f"{where}: expected a mapping")
    unknown = sorted(str(k) for k in item if k not in FIELDS)
    if unknown:
        raise AllowlistError(f"{where}: unknown field(s) {', '.join(unknown)}")
    mechanism = item.get("mechanism")
    if mechanism not in {m.value for m in Mechanism}:
        raise AllowlistError(f"{where}: mechanism must be one of {', '.join(m for m in Mechanism)}")
    command = item.get("command")
    commands: tuple[str, ...] | None
    if command is None:
        commands = None
    elif isinstance(command, str):
        commands = (command,)
    elif isinstance(command, list) and all(isinstance(c, str) for c in command):
        commands = tuple(command)
    else:
        raise AllowlistError(f"{where}: command must be text or a list of text")
    targets = item.get("targets") or {}
    if not isinstance(targets, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]{64}", v)
        for k, v in targets.items()
    ):
        raise AllowlistError(f"{where}: targets must map paths to sha256 hex digests")
    silence = item.get("silence") or []
    if isinstance(silence, str):
        silence = [silence]
    if not isinstance(silence, list) or not all(isinstance(s, str) for s in silence):
        raise AllowlistError(f"{where}: silence must be a list of rule ids")
    texts = {k: item.get(k) for k in ("name", "path", "run_as", "note")}
    for key, value in texts.items():
        if value is not None and not isinstance(value, str | int):
            raise AllowlistError(f"{where}: {key} must be text")
    return AllowEntry(
        number=number,
        mechanism=str(mechanism),
        name=_text(texts["name"]),
        path=_text(texts["path"]),
        commands=commands,
        run_as=_text(texts["run_as"]),
        targets={k: v.lower() for k, v in targets.items()},
        silence=frozenset(silence),
        note=_text(texts["note"]),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def policy_entries(
    jobs: Sequence[ScheduledJob], context: AnalysisContext
) -> list[dict[str, object]]:
    """One entry per job, approving it exactly as it is now (for `allowlist init`)."""
    entries: list[dict[str, object]] = []
    seen: set[str] = set()
    for job in jobs:
        entry: dict[str, object] = {"mechanism": job.mechanism.value}
        if job.mechanism not in TABLE_MECHANISMS:
            entry["name"] = json_safe(job.name)
        entry["path"] = json_safe(job.evidence.path)
        commands = [json_safe(c) for c in _commands(job)]
        if commands:
            entry["command"] = commands[0] if len(commands) == 1 else commands
        if job.run_as is not None:
            entry["run_as"] = json_safe(job.run_as)
        targets = {
            json_safe(p): context.target_hashes[p]
            for p in target_paths(job, context.facts)
            if p in context.target_hashes
        }
        if targets:
            entry["targets"] = targets
        key = repr(sorted(entry.items(), key=lambda kv: kv[0]))
        if key not in seen:  # identical lines of one table approve each other
            seen.add(key)
            entries.append(entry)
    return entries


def dump_policy(entries: list[dict[str, object]], header: Mapping[str, object]) -> str:
    comment = (
        "# schedwarden allowlist: the scheduled jobs approved on a known-good host or image.\n"
        "# Fields are globs where `*` matches any text. Add `silence: [RULE_ID]` to an entry to\n"
        "# stop reporting one rule for that job; remove an entry to stop approving it.\n"
    )
    import yaml

    body = {"schema": SCHEMA, **header, "jobs": entries}
    return comment + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=10_000)


# ---------------------------------------------------------------------------------------------
# matching


def target_paths(job: ScheduledJob, facts: Mapping[str, PathFact]) -> list[str]:
    """The files a job runs that exist on the host: programs and scripts with absolute paths,
    and the first PATH match of a command run by name."""
    found: list[str] = []
    resolved: set[tuple[int | None, str]] = set()
    for wanted in wanted_paths(job):
        fact = facts.get(wanted.path)
        exists = fact is not None and fact.exists and fact.kind == "regular"
        if wanted.role in ("executable", "script") and exists:
            found.append(wanted.path)
        elif (
            wanted.role == "path_entry"
            and exists
            and (wanted.action, wanted.detail) not in resolved
        ):
            resolved.add((wanted.action, wanted.detail))
            found.append(wanted.path)
    return list(dict.fromkeys(found))


def _commands(job: ScheduledJob) -> list[str]:
    return [a.command_line for a in job.actions if isinstance(a, ExecAction)]


@lru_cache(maxsize=4096)
def _glob(pattern: str, fold: bool) -> re.Pattern[str]:
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(body, re.DOTALL | (re.IGNORECASE if fold else 0))


def _like(pattern: str, text: str | None, fold: bool) -> bool:
    return text is not None and _glob(pattern, fold).fullmatch(json_safe(text)) is not None


def mismatch(entry: AllowEntry, job: ScheduledJob, context: AnalysisContext) -> str | None:
    """None when `entry` approves `job`, else the first field that differs, in words."""
    if entry.mechanism != job.mechanism.value:
        return f"mechanism is {job.mechanism.value}, approved {entry.mechanism}"
    fold = job.mechanism in CASE_INSENSITIVE
    if entry.name is not None and not _like(entry.name, job.name, fold):
        return f"name is '{job.name}', approved '{entry.name}'"
    if entry.path is not None and not _like(entry.path, job.evidence.path, fold):
        return f"definition is {job.evidence.path}, approved {entry.path}"
    if entry.commands is not None:
        commands = _commands(job)
        if len(commands) != len(entry.commands):
            return f"it has {len(commands)} command(s), approved {len(entry.commands)}"
        for have, want in zip(commands, entry.commands, strict=True):
            if not _like(want, have, fold):
                return f"command is '{have}', approved '{want}'"
    if entry.run_as is not None and not _like(entry.run_as, job.run_as, fold):
        return f"it runs as {job.run_as}, approved {entry.run_as}"
    for path, digest in entry.targets.items():
        actual = context.target_hashes.get(path)
        if actual is None:
            return f"approved target {path} is missing or unreadable"
        if actual != digest:
            return f"target {path} has sha256 {actual}, approved {digest}"
    return None


def decisions(
    allowlist: Allowlist, jobs: Sequence[ScheduledJob], context: AnalysisContext
) -> dict[str, tuple[AllowEntry | None, str]]:
    """For each job id: the approving entry, or None and why the closest entry differs."""
    by_mechanism: dict[str, list[AllowEntry]] = {}
    for entry in allowlist.entries:
        by_mechanism.setdefault(entry.mechanism, []).append(entry)
    found: dict[str, tuple[AllowEntry | None, str]] = {}
    for job in jobs:
        candidates = by_mechanism.get(job.mechanism.value, [])
        closest: tuple[int, str] | None = None
        for entry in candidates:
            why = mismatch(entry, job, context)
            if why is None:
                found[job.job_id] = (entry, "")
                break
            score = _closeness(entry, job)
            if closest is None or score > closest[0]:
                closest = (score, f"{entry.label}: {why}")
        else:
            reason = closest[1] if closest and closest[0] > 0 else "no entry names this job"
            found[job.job_id] = (None, reason)
    return found


def _closeness(entry: AllowEntry, job: ScheduledJob) -> int:
    fold = job.mechanism in CASE_INSENSITIVE
    score = 0
    if entry.name is not None and _like(entry.name, job.name, fold):
        score += 2
    if entry.path is not None and _like(entry.path, job.evidence.path, fold):
        score += 1
    return score


def analyze(
    jobs: Sequence[ScheduledJob],
    issues: Sequence[Issue],
    context: AnalysisContext = EMPTY_CONTEXT,
) -> Iterator[Finding]:
    allowlist = context.allowlist
    if allowlist is None:
        return
    for job in jobs:
        entry, reason = decisions(allowlist, [job], context)[job.job_id]
        if entry is not None:
            continue
        yield Finding(
            rule_id="NOT_ALLOWLISTED",
            title="Job is not on the allowlist",
            severity=for_dormant(Severity.MEDIUM, job),
            techniques=(job.technique,),
            job_id=job.job_id,
            evidence=job.evidence,
            message=f"{job.mechanism.value} job {job.name} is not approved by "
            f"{allowlist.origin}: {reason}",
            remediation="Remove the job if nobody approved it; otherwise add it to the "
            "allowlist (schedwarden allowlist init writes entries to copy).",
        )


def silence(
    findings: Sequence[Finding], jobs: Sequence[ScheduledJob], context: AnalysisContext
) -> list[Finding]:
    """Drop findings an approving entry silences for its job (never NOT_ALLOWLISTED)."""
    allowlist = context.allowlist
    if allowlist is None:
        return list(findings)
    approved = decisions(allowlist, jobs, context)
    kept = []
    for finding in findings:
        entry = approved.get(finding.job_id or "", (None, ""))[0]
        if entry is not None and (ALL_RULES in entry.silence or finding.rule_id in entry.silence):
            continue
        kept.append(finding)
    return kept


RULES: dict[str, str] = {"NOT_ALLOWLISTED": "Job is not on the allowlist"}

ANALYZER = Analyzer(
    name="allowlist",
    description="jobs not approved by the allowlist given with --allowlist",
    analyze=analyze,
)
