"""Between collectors and analyzers: look up the file facts analyzers ask for.

Analyzers never open evidence. `privilege.wanted_paths` says which paths matter for a job (what it
runs, sources, searches and is defined by); this step stats each of them and every ancestor folder
through the source (links followed inside the root, never outside), adds the host's own users
and groups, and, for an allowlist, the sha256 of the files jobs run. The result is an
`AnalysisContext`: plain data the analyzers judge. Nothing found is ever run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from .analyzers.allowlist import Allowlist, target_paths
from .analyzers.context import AnalysisContext, HostAccounts, HostUser, PathFact, ancestors
from .analyzers.privilege import wanted_paths
from .analyzers.sigma_rules import RulePack
from .model import ScheduledJob, SourceKind
from .sources import EvidenceError, NotFound, RootedSource

MAX_PATHS = 50_000
HASH_CAP = 64 * 1024 * 1024


def analysis_context(
    source: RootedSource,
    jobs: Sequence[ScheduledJob],
    *,
    rules: RulePack | None = None,
    allowlist: Allowlist | None = None,
    hash_targets: bool = False,
) -> AnalysisContext:
    """File facts for every path the analyzers need, the host's accounts, and (for an
    allowlist, or when asked) the sha256 of the files jobs run."""
    if source.kind is SourceKind.FILE:  # loose definition files: there is no host to look at
        return AnalysisContext(rules=rules, allowlist=allowlist)
    wanted = {job.job_id: wanted_paths(job) for job in jobs}
    facts = path_facts(source, (w.path for needs in wanted.values() for w in needs))
    hashes: dict[str, str] = {}
    if allowlist is not None or hash_targets:
        hashes = target_hashes(source, jobs, facts)
    return AnalysisContext(
        facts=facts,
        accounts=host_accounts(source),
        target_hashes=hashes,
        rules=rules,
        allowlist=allowlist,
        file_facts=True,
        wanted=wanted,
    )


def path_facts(source: RootedSource, paths: Iterable[str]) -> dict[str, PathFact]:
    facts: dict[str, PathFact] = {}
    pending = list(dict.fromkeys(paths))
    while pending and len(facts) < MAX_PATHS:
        path = pending.pop()
        if path in facts or not path.startswith("/"):
            continue
        fact = stat_fact(source, path)
        facts[path] = fact
        more = ancestors(path)
        if fact.real_path and fact.real_path != path:
            more += [fact.real_path, *ancestors(fact.real_path)]
        pending.extend(p for p in more if p not in facts)
    return facts


def stat_fact(source: RootedSource, path: str) -> PathFact:
    try:
        info = source.stat(path)
    except NotFound:
        return PathFact(path=path, exists=False)
    except EvidenceError as error:
        return PathFact(path=path, exists=False, problem=f"{error.code}: {error.message}")
    accounts = source.accounts
    return PathFact(
        path=path,
        exists=True,
        real_path=info.real_path,
        kind=info.kind.value,
        mode=info.mode,
        uid=info.uid,
        gid=info.gid,
        owner=accounts.user_name(info.uid),
        group=accounts.group_name(info.gid),
    )


def host_accounts(source: RootedSource) -> HostAccounts:
    accounts = source.accounts
    return HostAccounts(
        users={
            name: HostUser(name, user.uid, user.gid, user.home)
            for name, user in accounts.users.items()
        },
        groups=dict(accounts.groups),
        members=dict(accounts.group_members),
    )


def target_hashes(
    source: RootedSource, jobs: Sequence[ScheduledJob], facts: dict[str, PathFact]
) -> dict[str, str]:
    """sha256 of each existing file a job runs (for the allowlist's `targets`)."""
    hashes: dict[str, str] = {}
    for job in jobs:
        for path in target_paths(job, facts):
            if path in hashes:
                continue
            try:
                content = source.read(path, HASH_CAP)
            except (NotFound, EvidenceError):
                continue
            if not content.truncated:
                hashes[path] = content.sha256 or hashlib.sha256(content.data).hexdigest()
    return hashes
