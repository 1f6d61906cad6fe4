"""systemd generators (T1053.006): programs systemd runs as root at every boot and every
`daemon-reload`, very early, to write units (timers too) into /run/systemd/generator*/.

An attacker's generator (PANIX --generator) re-creates its timer at every boot, and the generated
units never exist on a disk image, so the generator itself is what an offline audit can see. Each
executable in a generator folder is a job that runs at boot; a non-executable one is dormant.

References: systemd.generator(7), systemd.environment-generator(7); reference/linux.md §b item 28.
"""

from __future__ import annotations

from ...model import (
    TECHNIQUE_OF_MECHANISM,
    Effective,
    Issue,
    Mechanism,
    ScheduledJob,
    TriggerSchedule,
    make_job_id,
)
from ...sources import FileKind
from ..base import CollectContext, Collector, CollectorOutput
from ..common import excerpt, exec_action
from .periodic import summarize_script
from .systemd_units import target_is_null

GENERATOR_DIRS: tuple[tuple[str, str], ...] = (
    ("/run/systemd/system-generators", "system"),
    ("/etc/systemd/system-generators", "system"),
    ("/usr/local/lib/systemd/system-generators", "system"),
    ("/usr/lib/systemd/system-generators", "system"),
    ("/lib/systemd/system-generators", "system"),
    ("/run/systemd/user-generators", "user"),
    ("/etc/systemd/user-generators", "user"),
    ("/usr/local/lib/systemd/user-generators", "user"),
    ("/usr/lib/systemd/user-generators", "user"),
    ("/etc/systemd/system-environment-generators", "system environment"),
    ("/usr/local/lib/systemd/system-environment-generators", "system environment"),
    ("/usr/lib/systemd/system-environment-generators", "system environment"),
    ("/etc/systemd/user-environment-generators", "user environment"),
    ("/usr/local/lib/systemd/user-environment-generators", "user environment"),
    ("/usr/lib/systemd/user-environment-generators", "user environment"),
)
READ_CAP = 64 * 1024


def collect(ctx: CollectContext) -> CollectorOutput:
    first: dict[tuple[str, str], str] = {}  # (kind, name) → the path systemd uses
    kinds = dict(GENERATOR_DIRS)
    for folder in ctx.distinct_folders(kinds):
        if isinstance(folder, Issue):
            yield folder
            continue
        kind = kinds[folder]
        names = ctx.list_dir(folder)
        if isinstance(names, Issue):
            yield names
            continue
        for name in names:
            path = f"{folder}/{name}"
            shadowed_by = first.setdefault((kind, name), path)
            if target_is_null(ctx.source, path):
                continue  # a mask: it hides the same name in lower folders
            content = ctx.read(path, READ_CAP)
            if isinstance(content, Issue):
                yield content
                continue
            if content is None:
                continue
            info = content.info
            if info.kind is not FileKind.REGULAR:
                continue
            if shadowed_by != path:
                effective = Effective(False, f"hidden by {shadowed_by} (same name, higher "
                                      "priority folder)", "systemd")  # fmt: skip
            elif not info.mode & 0o111:
                effective = Effective(False, f"not executable (mode {info.mode:04o})", "systemd")
            else:
                effective = Effective(True, f"run by the {kind.split()[0]} manager at every boot "
                                      "and daemon-reload", "systemd")  # fmt: skip
            text = content.data.decode("utf-8", "surrogateescape")
            interpreter, summary = summarize_script(text) if not text.startswith("\x7fELF") \
                else (None, "ELF binary")  # fmt: skip
            yield ScheduledJob(
                job_id=make_job_id(Mechanism.SYSTEMD_TIMER, path, content.sha256 or ""),
                mechanism=Mechanism.SYSTEMD_TIMER,
                technique=TECHNIQUE_OF_MECHANISM[Mechanism.SYSTEMD_TIMER],
                name=path,
                run_as="root" if kind.startswith("system") else "every user",
                schedule=TriggerSchedule(
                    trigger="boot",
                    description="At every boot and every systemd daemon-reload (generator)",
                    detail=f"{kind} generator",
                ),
                actions=(exec_action(path),),
                effective=effective,
                evidence=ctx.source.evidence(info, sha256=content.sha256),
                raw=excerpt(text) if interpreter else "",
                extra={"generator": kind, "interpreter": interpreter, "content_summary": summary},
            )


COLLECTOR = Collector(
    name="systemd_generator",
    mechanism=Mechanism.SYSTEMD_TIMER,
    platform="linux",
    locations=tuple(folder for folder, _ in GENERATOR_DIRS),
    collect=collect,
)
