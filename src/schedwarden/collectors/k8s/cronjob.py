"""Kubernetes CronJobs (T1053.007) from manifests: YAML or JSON files and folders, multi-document
files, `List` and `CronJobList` objects, Helm-rendered output and `kubectl get cronjobs -A -o
json|yaml` dumps; `batch/v1`, and the removed `batch/v1beta1` and `batch/v2alpha1`.

A CronJob makes the cluster run containers on a schedule. Attackers create one, or patch the image
or command of an existing one, to run a payload: often in `kube-system` under a controller-like
name, privileged, in the host's PID and network namespaces, with a `hostPath: /` volume that
reaches the node (and from there its cron tables and timers), and with job history limits at 0 so
that no Job or Pod is left behind. Each CronJob is one job named `<namespace>/<name>` (`default`
when the manifest names none: `kubectl apply -n` may put it elsewhere). Each container is one
action, init containers first as they run first; its command line is `command` + `args`, joined
shell-quoted after the kubelet's `$(VAR)` expansion, or the image's entrypoint when there is no
`command`. Images, service account, host namespaces, privileged containers, hostPath volumes and
history limits are in `extra`. A CronJob runs unless it is suspended or the API server would
refuse it (the reason is in `effective`).

Where manifests are read: the files given as PATH (`schedwarden audit manifests/`), every `.yaml`,
`.yml` and `.json` file and the files without an extension that start like a manifest; on a host or
an image, the folders whose files the node applies by itself (k3s and RKE2 auto-deploy, k0s
manifest deployer), where dropping a file is persistence on the cluster. Nothing else of an image
is searched.

References: reference/linux.md §b items 31-33 and §e item 10; reference/reliability.md K01-K03;
Kubernetes API reference (CronJob v1, PodSpec, SecurityContext, EnvVar);
https://attack.mitre.org/techniques/T1053/007/
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ...model import (
    TECHNIQUE_OF_MECHANISM,
    Effective,
    ExecAction,
    Issue,
    MacroSchedule,
    Mechanism,
    ScheduledJob,
    UnknownSchedule,
    make_job_id,
)
from ...sources import FileContent, FileInfo, FileKind, SourceError
from ..base import CollectContext, Collector, CollectorOutput
from ..common import excerpt
from .manifests import Loaded, Obj, Resource, load_manifests, looks_like_manifest
from .schedule import K8sSchedule, parse_schedule, time_zone_error

SUFFIXES = (".yaml", ".yml", ".json")
SNIFF_BYTES = 8192
MAX_ISSUES_PER_FILE = 100
MAX_NAME = 52  # the controller appends `-<minutes>` to name each Job
CONTROLLER = "kube-controller-manager"
POD = "spec.jobTemplate.spec.template.spec"
ENTRYPOINT = "<image entrypoint>"
AUTO_DEPLOY: tuple[tuple[str, str, int, int], ...] = (
    # folder, who applies its files, and the depths (below the folder) of the files it applies
    ("/var/lib/rancher/k3s/server/manifests", "k3s", 0, 8),
    ("/var/lib/rancher/rke2/server/manifests", "RKE2", 0, 8),
    ("/var/lib/k0s/manifests", "k0s", 1, 1),  # one stack per direct subfolder
)
REMOVED_VERSIONS = {
    "batch/v1beta1": "batch/v1beta1 is not served since Kubernetes 1.25 (use batch/v1)",
    "batch/v2alpha1": "batch/v2alpha1 was alpha only and is not served since Kubernetes 1.21",
}
DEFAULTED_VERSIONS = ("batch/v1", "batch/v1beta1")  # history limits default to 3 and 1
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")


def collect(ctx: CollectContext) -> CollectorOutput:
    given = ctx.source.loose_files()
    if given:
        for path in given:
            yield from _given_file(ctx, path)
        return
    for folder, deployer, lowest, deepest in AUTO_DEPLOY:
        for found in _walk(ctx, folder, lowest, deepest):
            if isinstance(found, Issue):
                yield found
            elif found.lower().endswith(SUFFIXES):
                yield from _manifest_file(ctx, found, deployer)


def _given_file(ctx: CollectContext, path: str) -> CollectorOutput:
    name = path.rsplit("/", 1)[-1]
    if name.lower().endswith(SUFFIXES):
        yield from _manifest_file(ctx, path, None)
    elif "." not in name:
        head = ctx.read(path, SNIFF_BYTES)
        if isinstance(head, FileContent) and looks_like_manifest(head.data):
            yield from _manifest_file(ctx, path, None)


def _walk(ctx: CollectContext, folder: str, lowest: int, deepest: int) -> Iterator[str | Issue]:
    """Regular files under `folder` between two depths, breadth first, links followed inside
    the root."""
    pending = [(folder, 0)]
    while pending:
        directory, depth = pending.pop(0)
        names = ctx.list_dir(directory)
        if isinstance(names, Issue):
            yield names
            continue
        for name in names:
            path = f"{directory}/{name}"
            try:
                kind = ctx.source.stat(path).kind
            except SourceError as error:
                yield ctx.issue_from(error)
                continue
            if kind is FileKind.DIRECTORY and depth < deepest:
                pending.append((path, depth + 1))
            elif kind is FileKind.REGULAR and depth >= lowest:
                yield path


def _manifest_file(ctx: CollectContext, path: str, deployer: str | None) -> CollectorOutput:
    content = ctx.read(path)
    if not isinstance(content, FileContent):
        if content is not None:
            yield content
        return
    yield from _capped(ctx, content.info, _manifest_records(ctx, content, deployer))


def _manifest_records(
    ctx: CollectContext, content: FileContent, deployer: str | None
) -> CollectorOutput:
    info = content.info
    if content.truncated:
        yield ctx.issue(
            "OVERSIZED_FILE",
            f"read only the first {len(content.data)} bytes; the last document (all of a JSON "
            "file) was not examined",
            info,
        )
    loaded = load_manifests(content.data, truncated=content.truncated)
    for problem in loaded.problems:
        yield ctx.issue(problem.code, problem.message, info, line=problem.line)
    seen: Counter[tuple[str, ...]] = Counter()
    for resource in loaded.resources():
        if resource.kind == "CronJob":
            yield from _cronjob(ctx, content, loaded, resource, deployer, seen)


def _capped(ctx: CollectContext, info: FileInfo, records: CollectorOutput) -> CollectorOutput:
    """At most MAX_ISSUES_PER_FILE issues of one file, then one that counts the rest."""
    shown = hidden = 0
    for record in records:
        if isinstance(record, Issue):
            if shown >= MAX_ISSUES_PER_FILE:
                hidden += 1
                continue
            shown += 1
        yield record
    if hidden:
        yield ctx.issue("TOO_MANY_ISSUES", f"{hidden} more problems in this file not listed", info)


# ---------------------------------------------------------------------------------------------
# One CronJob


@dataclass(slots=True)
class _Reader:
    """Typed reads of a CronJob's fields. A value of the wrong type counts as absent and is a
    reason the API server would refuse the object; `problems` are (code, message, line)."""

    problems: list[tuple[str, str, int]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    def refuse(self, where: str, message: str, line: int) -> None:
        self.refusals.append(f"{where}: {message}")
        self.problems.append(
            ("INVALID_FIELD", f"the API server would refuse it: {where}: {message}", line)
        )

    def _get(self, parent: Obj | None, key: str) -> object:
        return None if parent is None else parent.get(key)

    def _wrong(self, parent: Obj | None, key: str, where: str, expected: str) -> None:
        if parent is None:
            return
        self.refuse(
            where, f"expected {expected}, found {_shown(parent[key])}", parent.key_line(key)
        )

    def mapping(self, parent: Obj | None, key: str, where: str) -> Obj | None:
        value = self._get(parent, key)
        if value is None or isinstance(value, Obj):
            return value
        self._wrong(parent, key, where, "an object")
        return None

    def sequence(self, parent: Obj | None, key: str, where: str) -> list[object]:
        value = self._get(parent, key)
        if isinstance(value, list):
            return value
        if value is not None:
            self._wrong(parent, key, where, "a list")
        return []

    def string(self, parent: Obj | None, key: str, where: str) -> str | None:
        value = self._get(parent, key)
        if value is None or isinstance(value, str):
            return value
        self._wrong(parent, key, where, "a string")
        return None

    def strings(self, parent: Obj | None, key: str, where: str) -> list[str]:
        """A list of strings; an item of another type is refused and kept as text."""
        items = self.sequence(parent, key, where)
        if any(not isinstance(item, str) for item in items):
            self._wrong(parent, key, where, "a list of strings")
        return [
            item if isinstance(item, str) else "" if item is None else str(item) for item in items
        ]

    def boolean(self, parent: Obj | None, key: str, where: str) -> bool | None:
        value = self._get(parent, key)
        if value is None or isinstance(value, bool):
            return value
        self._wrong(parent, key, where, "true or false")
        return None

    def integer(self, parent: Obj | None, key: str, where: str) -> int | None:
        value = self._get(parent, key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        self._wrong(parent, key, where, "an integer")
        return None

    def count(self, parent: Obj | None, key: str, where: str) -> int | None:
        """A non-negative integer (seconds, history limits)."""
        value = self.integer(parent, key, where)
        if value is not None and value < 0 and parent is not None:
            self.refuse(where, "must be greater than or equal to 0", parent.key_line(key))
            return None
        return value


def _shown(value: object) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    if isinstance(value, Obj):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return f"{kinds.get(type(value), type(value).__name__)} {text[:60]}"


@dataclass(frozen=True, slots=True)
class _PodSecurity:
    """The pod-level securityContext fields that containers inherit unless they set their own."""

    uid: int | None
    non_root: bool | None
    windows_user: str | None


@dataclass(frozen=True, slots=True)
class _Container:
    init: bool
    image: str | None
    action: ExecAction
    environment: tuple[tuple[str, str], ...]
    run_as: str
    uid: int | None
    non_root: bool | None
    privileged: bool
    detail: dict[str, object]


def _cronjob(
    ctx: CollectContext,
    content: FileContent,
    loaded: Loaded,
    resource: Resource,
    deployer: str | None,
    seen: Counter[tuple[str, ...]],
) -> CollectorOutput:
    obj = resource.obj
    read = _Reader()
    api_version = resource.api_version
    if api_version is None:
        read.refuse("apiVersion", "Required value", obj.line)
    builtin = api_version is None or api_version.partition("/")[0] == "batch"

    meta = read.mapping(obj, "metadata", "metadata")
    name = read.string(meta, "name", "metadata.name")
    generate = read.string(meta, "generateName", "metadata.generateName")
    if not name and not generate:
        read.refuse("metadata.name", "Required value", (obj if meta is None else meta).line)
    elif name and len(name) > MAX_NAME and meta is not None:
        read.refuse(
            "metadata.name", f"must be no more than {MAX_NAME} characters", meta.key_line("name")
        )
    namespace = read.string(meta, "namespace", "metadata.namespace")
    shown_namespace = namespace or "default"
    shown_name = name or (f"{generate}*" if generate else "<unnamed>")

    spec = read.mapping(obj, "spec", "spec")
    if spec is None:
        read.refuse("spec", "Required value", obj.line)
    parsed = _schedule(read, spec)
    suspend = read.boolean(spec, "suspend", "spec.suspend")
    policy = read.string(spec, "concurrencyPolicy", "spec.concurrencyPolicy")
    if policy is not None and policy not in CONCURRENCY_POLICIES and spec is not None:
        read.refuse(
            "spec.concurrencyPolicy",
            f"Unsupported value: {policy!r}: supported values: {', '.join(CONCURRENCY_POLICIES)}",
            spec.key_line("concurrencyPolicy"),
        )
    deadline = read.count(spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds")
    successful = read.count(spec, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit")
    failed = read.count(spec, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit")
    job_template = read.mapping(spec, "jobTemplate", "spec.jobTemplate")
    job_spec = read.mapping(job_template, "spec", "spec.jobTemplate.spec")
    ttl = read.count(
        job_spec, "ttlSecondsAfterFinished", "spec.jobTemplate.spec.ttlSecondsAfterFinished"
    )
    template = read.mapping(job_spec, "template", "spec.jobTemplate.spec.template")
    pod = read.mapping(template, "spec", POD)

    service_account = (
        read.string(pod, "serviceAccountName", f"{POD}.serviceAccountName")
        or read.string(pod, "serviceAccount", f"{POD}.serviceAccount")
        or "default"
    )
    automount = read.boolean(
        pod, "automountServiceAccountToken", f"{POD}.automountServiceAccountToken"
    )
    host_pid = read.boolean(pod, "hostPID", f"{POD}.hostPID") is True
    host_network = read.boolean(pod, "hostNetwork", f"{POD}.hostNetwork") is True
    host_ipc = read.boolean(pod, "hostIPC", f"{POD}.hostIPC") is True
    pod_security = _pod_security(read, pod)
    host_volumes = _host_path_volumes(read, pod)
    containers = _containers(read, pod, pod_security, host_volumes)
    if not any(not c.init for c in containers):
        where = next(o for o in (pod, template, job_spec, job_template, spec, obj) if o is not None)
        read.refuse(f"{POD}.containers", "Required value", where.line)

    job_name = f"{shown_namespace}/{shown_name}"
    info = content.info
    for code, message, line in sorted(read.problems, key=lambda p: p[2]):
        yield ctx.issue(code, f"CronJob {job_name}: {message}", info, line=line)

    main = next((c for c in containers if not c.init), containers[0] if containers else None)
    raw = loaded.excerpt(obj.line, obj.end_line)
    defaulted = api_version in DEFAULTED_VERSIONS
    extra: dict[str, object] = {
        "namespace": shown_namespace,
        "api_version": api_version,
        "service_account": service_account,
        "concurrency_policy": policy or "Allow",
        "starting_deadline_seconds": deadline,
        "successful_jobs_history_limit": 3 if successful is None and defaulted else successful,
        "failed_jobs_history_limit": 1 if failed is None and defaulted else failed,
        "ttl_seconds_after_finished": ttl,
        "host_pid": host_pid,
        "host_network": host_network,
        "host_ipc": host_ipc,
        "privileged_containers": [c.detail["name"] for c in containers if c.privileged],
        "host_path_volumes": list(dict.fromkeys(host_volumes.values())),
        "images": list(dict.fromkeys(c.image for c in containers if c.image)),
        "run_as_root": _runs_as_root(containers),
        "containers": [c.detail for c in containers],
    }
    if namespace is None:
        extra["namespace_defaulted"] = True  # `kubectl apply -n NS` would put it in NS
    if api_version in REMOVED_VERSIONS:
        extra["api_version_deprecated"] = REMOVED_VERSIONS[api_version]
    if automount is not None:
        extra["automount_service_account_token"] = automount
    schedule_text = spec.get("schedule") if spec is not None else None
    written = getattr(parsed.schedule, "expression", None)
    if isinstance(parsed.schedule, MacroSchedule):
        written = parsed.schedule.macro
    if written is not None and schedule_text != written:
        extra["schedule_text"] = schedule_text  # as written, before robfig's forms were rewritten
    if parsed.note:
        extra["schedule_note"] = parsed.note
    if deployer:
        extra["applied_by"] = deployer
    if "{{" in raw:
        extra["templated"] = True  # an unrendered Helm/Go template: values are placeholders

    commands = [f"{c.image or ''} {c.action.command_line}" for c in containers]
    key = (shown_namespace, shown_name, str(schedule_text), *commands)
    seen[key] += 1
    evidence = ctx.source.evidence(info, line=obj.line, sha256=content.sha256)
    yield ScheduledJob(
        job_id=make_job_id(Mechanism.K8S_CRONJOB, evidence.path, *key, str(seen[key])),
        mechanism=Mechanism.K8S_CRONJOB,
        technique=TECHNIQUE_OF_MECHANISM[Mechanism.K8S_CRONJOB],
        name=job_name,
        run_as=main.run_as if main else None,
        schedule=parsed.schedule,
        actions=tuple(c.action for c in containers),
        effective=_effective(read, suspend, builtin, api_version, parsed, deployer),
        evidence=evidence,
        environment=main.environment if main else (),
        enabled=suspend is not True,
        raw=excerpt(raw),
        extra=extra,
    )


def _schedule(read: _Reader, spec: Obj | None) -> K8sSchedule:
    text = read.string(spec, "schedule", "spec.schedule")
    time_zone = read.string(spec, "timeZone", "spec.timeZone")
    zone_error = None
    if time_zone is not None and spec is not None:
        zone_error = time_zone_error(time_zone)
        if zone_error:
            read.refuse("spec.timeZone", zone_error, spec.key_line("timeZone"))
    if text is None or spec is None:
        if spec is not None:
            read.refuse("spec.schedule", "Required value", spec.line)
        return K8sSchedule(UnknownSchedule("no usable spec.schedule"))
    parsed = parse_schedule(text, None if zone_error else time_zone)
    line = spec.key_line("schedule")
    if parsed.error:
        read.refuse("spec.schedule", parsed.error, line)
    if "TZ" in text:
        read.problems.append(
            (
                "INVALID_FIELD",
                "spec.schedule contains TZ or CRON_TZ: the API server refuses to create such a "
                "CronJob since Kubernetes 1.29 (spec.timeZone is the supported way); one created "
                "before keeps it, and the controller honours it",
                line,
            )
        )
    return parsed


def _effective(
    read: _Reader,
    suspend: bool | None,
    builtin: bool,
    api_version: str | None,
    parsed: K8sSchedule,
    deployer: str | None,
) -> Effective:
    if read.refusals:
        more = f" (and {len(read.refusals) - 3} more)" if len(read.refusals) > 3 else ""
        return Effective(
            False,
            "the API server would refuse it: " + "; ".join(read.refusals[:3]) + more,
            CONTROLLER,
        )
    if suspend:
        return Effective(
            False,
            "suspended (spec.suspend: true): no Job is started until it is resumed",
            CONTROLLER,
        )
    if not builtin:
        return Effective(
            None,
            f"apiVersion {api_version} is not the built-in batch API: it runs only where a "
            "controller for it is installed",
            None,
        )
    if parsed.inline_zone is not None:
        return Effective(
            None,
            "TZ/CRON_TZ in spec.schedule: refused when created on Kubernetes 1.29 or later, "
            "honoured on a CronJob created before",
            CONTROLLER,
        )
    reason = "scheduled by the CronJob controller"
    if deployer:
        reason = f"applied by {deployer} from its auto-deploy folder, then {reason}"
    removed = REMOVED_VERSIONS.get(api_version or "")
    if removed:
        reason += f"; {removed}, so applying this manifest fails on newer clusters"
    return Effective(True, reason, CONTROLLER)


# ---------------------------------------------------------------------------------------------
# The pod template


def _pod_security(read: _Reader, pod: Obj | None) -> _PodSecurity:
    context = read.mapping(pod, "securityContext", f"{POD}.securityContext")
    where = f"{POD}.securityContext"
    windows = read.mapping(context, "windowsOptions", f"{where}.windowsOptions")
    return _PodSecurity(
        uid=read.integer(context, "runAsUser", f"{where}.runAsUser"),
        non_root=read.boolean(context, "runAsNonRoot", f"{where}.runAsNonRoot"),
        windows_user=read.string(windows, "runAsUserName", f"{where}.windowsOptions.runAsUserName"),
    )


def _host_path_volumes(read: _Reader, pod: Obj | None) -> dict[str, str]:
    """Volume name → host path, for every hostPath volume of the pod."""
    found: dict[str, str] = {}
    for index, volume in enumerate(read.sequence(pod, "volumes", f"{POD}.volumes")):
        if not isinstance(volume, Obj):
            continue
        where = f"{POD}.volumes[{index}]"
        host_path = read.mapping(volume, "hostPath", f"{where}.hostPath")
        path = read.string(host_path, "path", f"{where}.hostPath.path")
        if path is not None:
            found[read.string(volume, "name", f"{where}.name") or f"#{index}"] = path
    return found


def _containers(
    read: _Reader, pod: Obj | None, security: _PodSecurity, host_volumes: Mapping[str, str]
) -> list[_Container]:
    containers: list[_Container] = []
    for key, init in (("initContainers", True), ("containers", False)):
        for index, item in enumerate(read.sequence(pod, key, f"{POD}.{key}")):
            where = f"{POD}.{key}[{index}]"
            if isinstance(item, Obj):
                containers.append(_container(read, item, where, init, security, host_volumes))
            elif pod is not None:
                read.refuse(where, f"expected an object, found {_shown(item)}", pod.key_line(key))
    return containers


def _container(
    read: _Reader,
    item: Obj,
    where: str,
    init: bool,
    pod_security: _PodSecurity,
    host_volumes: Mapping[str, str],
) -> _Container:
    name = read.string(item, "name", f"{where}.name")
    if not name:
        read.refuse(f"{where}.name", "Required value", item.line)
    image = read.string(item, "image", f"{where}.image")
    command = read.strings(item, "command", f"{where}.command")
    args = read.strings(item, "args", f"{where}.args")
    working_dir = read.string(item, "workingDir", f"{where}.workingDir")
    environment, known, env_from = _environment(read, item, where)
    words = [expand(w, known) for w in command]
    arguments = [expand(w, known) for w in args]
    if words:
        action = ExecAction(
            command_line=shlex.join(words + arguments),
            executable=words[0],
            arguments=tuple(words[1:] + arguments),
            working_dir=working_dir,
        )
    else:  # the image's ENTRYPOINT runs, with `args` (or the image's CMD) as arguments
        tail = " " + shlex.join(arguments) if arguments else ""
        action = ExecAction(ENTRYPOINT + tail, None, tuple(arguments), working_dir)

    context = read.mapping(item, "securityContext", f"{where}.securityContext")
    at = f"{where}.securityContext"
    own_uid = read.integer(context, "runAsUser", f"{at}.runAsUser")
    own_non_root = read.boolean(context, "runAsNonRoot", f"{at}.runAsNonRoot")
    windows = read.mapping(context, "windowsOptions", f"{at}.windowsOptions")
    own_windows_user = read.string(windows, "runAsUserName", f"{at}.windowsOptions.runAsUserName")
    privileged = read.boolean(context, "privileged", f"{at}.privileged") is True
    escalation = read.boolean(context, "allowPrivilegeEscalation", f"{at}.allowPrivilegeEscalation")
    capabilities = read.mapping(context, "capabilities", f"{at}.capabilities")
    added = read.strings(capabilities, "add", f"{at}.capabilities.add")
    uid = own_uid if own_uid is not None else pod_security.uid
    non_root = own_non_root if own_non_root is not None else pod_security.non_root
    windows_user = own_windows_user or pod_security.windows_user
    run_as = _run_as(uid, non_root, windows_user)

    detail: dict[str, object] = {
        "name": name,
        "init": init,
        "image": image,
        "run_as": run_as,
        "privileged": privileged,
    }
    if not words:
        detail["uses_image_entrypoint"] = True
    if words != command or arguments != args:
        detail["command_before_expansion"] = shlex.join(command + args)
    if env_from:
        detail["env_from"] = env_from
    if added:
        detail["capabilities_added"] = added
    if escalation is not None:
        detail["allow_privilege_escalation"] = escalation
    mounts = _host_path_mounts(read, item, where, host_volumes)
    if mounts:
        detail["host_path_mounts"] = mounts
    return _Container(
        init=init,
        image=image,
        action=action,
        environment=environment,
        run_as=run_as,
        uid=uid,
        non_root=non_root,
        privileged=privileged,
        detail=detail,
    )


def _environment(
    read: _Reader, item: Obj, where: str
) -> tuple[tuple[tuple[str, str], ...], dict[str, str], list[str]]:
    """The container's variables in order (a later one of the same name wins, as in the kubelet),
    those whose value is known (for `$(VAR)` expansion), and its `envFrom` sources."""
    values: dict[str, str] = {}
    known: dict[str, str] = {}
    for index, entry in enumerate(read.sequence(item, "env", f"{where}.env")):
        at = f"{where}.env[{index}]"
        if not isinstance(entry, Obj):
            read.refuse(at, f"expected an object, found {_shown(entry)}", item.key_line("env"))
            continue
        name = read.string(entry, "name", f"{at}.name")
        if not name:
            read.refuse(f"{at}.name", "Required value", entry.line)
            continue
        source = read.mapping(entry, "valueFrom", f"{at}.valueFrom")
        if source is not None:
            value = _value_from(source)
            known.pop(name, None)
        else:
            value = expand(read.string(entry, "value", f"{at}.value") or "", known)
            known[name] = value
        values.pop(name, None)
        values[name] = value
    sources = []
    for index, entry in enumerate(read.sequence(item, "envFrom", f"{where}.envFrom")):
        if not isinstance(entry, Obj):
            continue
        for kind in ("configMapRef", "secretRef"):
            ref = entry.get(kind)
            if isinstance(ref, Obj):
                prefix = read.string(entry, "prefix", f"{where}.envFrom[{index}].prefix")
                shown = f"{kind} {ref.get('name')}" + (f" (prefix {prefix})" if prefix else "")
                sources.append(shown)
    return tuple(values.items()), known, sources


def _value_from(source: Obj) -> str:
    """A placeholder naming where a variable's value comes from (`<from secretKeyRef s/k>`)."""
    for kind in ("secretKeyRef", "configMapKeyRef"):
        ref = source.get(kind)
        if isinstance(ref, Obj):
            return f"<from {kind} {ref.get('name')}/{ref.get('key')}>"
    ref = source.get("fieldRef")
    if isinstance(ref, Obj):
        return f"<from fieldRef {ref.get('fieldPath')}>"
    ref = source.get("resourceFieldRef")
    if isinstance(ref, Obj):
        return f"<from resourceFieldRef {ref.get('resource')}>"
    return "<from " + (", ".join(source) or "nothing") + ">"


def expand(text: str, known: Mapping[str, str]) -> str:
    """`$(NAME)` as the kubelet expands it in env values, `command` and `args`: replaced when NAME
    is a variable with a known value, `$$` is a literal `$`, anything else is kept as written."""
    if "$" not in text:
        return text
    out: list[str] = []
    index, end = 0, len(text)
    while index < end:
        char = text[index]
        if char != "$" or index + 1 == end:
            out.append(char)
            index += 1
            continue
        following = text[index + 1]
        if following == "$":
            out.append("$")
            index += 2
        elif following == "(":
            close = text.find(")", index + 2)
            if close < 0:
                out.append("$(")
                index += 2
            else:
                variable = text[index + 2 : close]
                out.append(known.get(variable, f"$({variable})"))
                index = close + 1
        else:
            out.append("$" + following)
            index += 2
    return "".join(out)


def _host_path_mounts(
    read: _Reader, item: Obj, where: str, host_volumes: Mapping[str, str]
) -> list[dict[str, object]]:
    mounts: list[dict[str, object]] = []
    for index, mount in enumerate(read.sequence(item, "volumeMounts", f"{where}.volumeMounts")):
        if not isinstance(mount, Obj):
            continue
        at = f"{where}.volumeMounts[{index}]"
        volume = read.string(mount, "name", f"{at}.name")
        if volume is not None and volume in host_volumes:
            mounts.append(
                {
                    "host_path": host_volumes[volume],
                    "mount_path": read.string(mount, "mountPath", f"{at}.mountPath"),
                    "read_only": read.boolean(mount, "readOnly", f"{at}.readOnly") is True,
                }
            )
    return mounts


def _run_as(uid: int | None, non_root: bool | None, windows_user: str | None) -> str:
    if windows_user:
        return windows_user
    if uid == 0:
        return "root (uid 0)"
    if uid is not None:
        return f"uid {uid}"
    if non_root:
        return "non-root (image default user; runAsNonRoot: true)"
    return "unspecified: image default user"


def _runs_as_root(containers: list[_Container]) -> bool | None:
    """True when a container is set to run as uid 0, False when every one is set to a non-root
    user, None when it depends on the image's default user."""
    if any(c.uid == 0 for c in containers):
        return True
    if containers and all(c.uid is not None or c.non_root for c in containers):
        return False
    return None


COLLECTOR = Collector(
    name="k8s_cronjob",
    mechanism=Mechanism.K8S_CRONJOB,
    platform="kubernetes",
    locations=tuple(folder for folder, *_ in AUTO_DEPLOY),
    collect=collect,
)
