"""The config root: one folder holds everything a deployment needs, read strictly and validated whole.

::

    <root>/edi.yaml                 settings: data directory, database, IMS adapter, logs, policies
    <root>/mappings/<partner>/      mappings, lookup tables and partner.yaml (with the partner's ISA ids)
    <root>/connectors/*.yaml        where documents come from and go to (folder, sftp, as2)
    <root>/schedules/*.yaml         which job runs when

The root is ``--config DIR``, else ``EDI_CONFIG``, else the current directory; nothing below it is
ever resolved against the current directory. Settings come from ``edi.yaml`` with environment
overrides (``EDI_DATABASE_URL``, ``EDI_DATA_DIR``, ``EDI_LOG_FORMAT``; pydantic-settings). Secrets
never live in YAML: connectors name an environment variable or a file that holds them.

``load_root`` collects every problem of every file before it raises, each as
``file:line:col: CODE message``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from edi.config.loader import ConfigFinding, YamlError, load_yaml, validation_findings
from edi.config.partner import PARTNER_FILE, PartnerSettings
from edi.transports.folder import FolderSettings

SETTINGS_FILE = "edi.yaml"
CONFIG_ENV = "EDI_CONFIG"
_NAME = r"^[a-z0-9][a-z0-9_-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- settings ------------------------------------------------------------------------------------


class ImsSettings(_Strict):
    """Which inventory system the pipeline talks to."""

    kind: Literal["embedded", "files"] = Field(
        default="embedded", description="embedded: stock ledger in the database; files: JSON files in folders")
    orders_dir: str = Field(default="ims/orders", description="files: sales orders are written here")
    allocations_dir: str = Field(default="ims/allocations", description="files: the IMS's allocation answers")
    packs_dir: str = Field(default="ims/packs", description="files (and embedded): pack confirmations to apply")


class Settings(BaseSettings):
    """``edi.yaml``: where data lives and how the service behaves; environment variables override it."""

    model_config = SettingsConfigDict(env_prefix="EDI_", extra="forbid", frozen=True)

    data_dir: str = Field(default="data", description="archive, embedded database, locks (relative to the root)")
    database_url: str = Field(default="", description="empty: SQLite in data_dir; postgresql+psycopg://... "
                                                        "for several daemons on one database")
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: console on a terminal, JSON lines otherwise")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    unknown_sender: Literal["quarantine"] = Field(
        default="quarantine", description="an interchange whose ISA ids match no partner: kept aside, no reply, "
                                          "UNKNOWN_PARTNER exception")
    archive_retention_days: int = Field(default=400, ge=30, description="housekeeping keeps archived files this "
                                                                        "long (X12 envelopes are deduped a year)")
    ims: ImsSettings = ImsSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values (the YAML file, passed in) first, then the environment, then defaults."""
        del settings_cls, dotenv_settings, file_secret_settings
        return env_settings, init_settings


# -- connectors ----------------------------------------------------------------------------------


class DeliverySettings(_Strict):
    """How delivery is retried within one run, and when it becomes an exception."""

    attempts: int = Field(default=3, ge=1, le=20, description="tries per document and run")
    backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    max_backoff_seconds: float = Field(default=30.0, ge=0, le=600)
    alert_after_failures: int = Field(default=3, ge=1, description="runs that failed before DELIVERY_FAILED")


class ConnectorFile(_Strict):
    """``connectors/<name>.yaml``."""

    connector: str = Field(min_length=1, max_length=64, pattern=_NAME)
    partner: str = Field(min_length=1, max_length=32, pattern=_NAME)
    kind: Literal["folder", "sftp", "as2"]
    enabled: bool = True
    folder: FolderSettings | None = None
    sftp: dict[str, Any] | None = Field(default=None, description="see the SFTP transport's settings")
    as2: dict[str, Any] | None = Field(default=None, description="see the AS2 transport's settings")
    max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1, le=2 * 1024 ** 3)
    stable_seconds: float = Field(default=1.0, ge=0, le=600,
                                  description="a file is taken when size and mtime are unchanged this long")
    max_files_per_poll: int = Field(default=1000, ge=1)
    delivery: DeliverySettings = DeliverySettings()

    @model_validator(mode="after")
    def _section_for_kind(self) -> ConnectorFile:
        given = {k for k in ("folder", "sftp", "as2") if getattr(self, k) is not None}
        if self.kind not in given:
            raise ValueError(f"kind {self.kind} needs a '{self.kind}:' section")
        if given - {self.kind}:
            raise ValueError(f"section(s) {', '.join(sorted(given - {self.kind}))} do not apply to kind {self.kind}")
        return self


# -- schedules -----------------------------------------------------------------------------------

JOB_KINDS = ("cycle", "poll", "process", "acknowledge", "ship", "deliver", "deadlines", "housekeeping")
JobKind = Literal["cycle", "poll", "process", "acknowledge", "ship", "deliver", "deadlines", "housekeeping"]


class JobSpec(_Strict):
    """One scheduled job: what it does and when."""

    job: JobKind = Field(description="cycle runs poll, process, acknowledge, ship, deliver in that order")
    connector: str | None = Field(default=None, description="poll/deliver/cycle: only this connector (default all)")
    every_seconds: float | None = Field(default=None, gt=0, le=86400)
    cron: str | None = Field(default=None, description="five fields, UTC: minute hour day month weekday")
    misfire_grace_seconds: int = Field(default=60, ge=1)

    @model_validator(mode="after")
    def _one_trigger(self) -> JobSpec:
        if (self.every_seconds is None) == (self.cron is None):
            raise ValueError("give exactly one of every_seconds and cron")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(f"cron {self.cron!r} must have five fields (minute hour day month weekday)")
        return self


class ScheduleFile(_Strict):
    """``schedules/<name>.yaml``: named jobs."""

    jobs: dict[str, JobSpec]


# -- the root --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connector:
    """A validated connector with the file it came from."""

    spec: ConnectorFile
    file: Path

    @property
    def name(self) -> str:
        """The connector's name (unique in the root)."""
        return self.spec.connector


@dataclass(frozen=True)
class ScheduledJob:
    """A validated job with its name and file."""

    name: str
    spec: JobSpec
    file: Path


@dataclass(frozen=True)
class ConfigRoot:
    """Everything one deployment is configured with; paths are resolved against ``root``."""

    root: Path
    settings: Settings
    partners: dict[str, PartnerSettings]
    connectors: dict[str, Connector]
    jobs: list[ScheduledJob] = field(default_factory=list)

    def path(self, value: str | Path) -> Path:
        """A path from the config, resolved against the root (absolute paths stay as they are)."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.root / p

    @property
    def data_dir(self) -> Path:
        """The data directory (archive, SQLite database, lock)."""
        return self.path(self.settings.data_dir)

    @property
    def database_url(self) -> str | None:
        """The database URL, or None for SQLite in the data directory."""
        return self.settings.database_url or None

    def partner(self, name: str | None) -> PartnerSettings:
        """One partner by name; without a name, the only one (an error naming them when there are several)."""
        if name is None:
            if len(self.partners) == 1:
                return next(iter(self.partners.values()))
            raise YamlError([ConfigFinding("CFG_PARTNER_REQUIRED", f"several partners are configured "
                                           f"({', '.join(sorted(self.partners))}): say which with --partner",
                                           None, "", str(self.root / "mappings"))])
        if name not in self.partners:
            known = ", ".join(sorted(self.partners)) or "none"
            raise YamlError([ConfigFinding("CFG_UNKNOWN_PARTNER", f"unknown partner {name!r} (known: {known})",
                                           None, "", str(self.root / "mappings"))])
        return self.partners[name]

    def partner_for(self, sender: str, receiver: str) -> PartnerSettings | None:
        """The partner whose declared ISA ids match an interchange's sender and receiver (``QQ/ID``)."""
        sender, receiver = sender.upper(), receiver.upper()
        for p in self.partners.values():
            if sender in p.partner_ids and (not p.our_ids or receiver in p.our_ids):
                return p
        return None


def root_from(config: Path | None) -> Path:
    """The config root: the option, else ``EDI_CONFIG``, else the current directory (made absolute once)."""
    chosen = config if config is not None else Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None
    return (chosen or Path.cwd()).expanduser().resolve()


def load_root(root: Path) -> ConfigRoot:
    """Read and validate the whole root; raise one YamlError listing every problem of every file."""
    findings: list[ConfigFinding] = []
    if not root.is_dir():
        raise YamlError([ConfigFinding("CFG_ROOT", f"config root {root} is not a folder", None,
                                       "pass --config DIR or set EDI_CONFIG; `edi init DIR` writes a working one",
                                       str(root))])
    settings = _settings(root, findings)
    partners = _partners(root, findings)
    connectors = _connectors(root, partners, findings)
    jobs = _schedules(root, connectors, findings)
    if findings:
        raise YamlError(findings)
    assert settings is not None
    return ConfigRoot(root, settings, partners, connectors, jobs)


def _settings(root: Path, findings: list[ConfigFinding]) -> Settings | None:
    path = root / SETTINGS_FILE
    tree: Any = {}
    if path.exists():
        try:
            tree = load_yaml(path)
        except YamlError as exc:
            findings += exc.findings
            return None
    if not isinstance(tree, dict):
        findings.append(ConfigFinding("CFG_INVALID", "the settings file must be a mapping", None, "", str(path)))
        return None
    try:
        return Settings(**tree)
    except ValidationError as exc:
        findings += validation_findings(exc, tree) if tree else [
            ConfigFinding("CFG_INVALID", e["msg"], None, "check the EDI_* environment variables", "environment")
            for e in exc.errors(include_url=False)]
        return None


def _partners(root: Path, findings: list[ConfigFinding]) -> dict[str, PartnerSettings]:
    partners: dict[str, PartnerSettings] = {}
    base = root / "mappings"
    if not base.is_dir():
        findings.append(ConfigFinding("CFG_NO_PARTNER", "no mappings/ folder: at least one partner is needed", None,
                                      "`edi init DIR` writes a root with the Amazon partner", str(base)))
        return partners
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and (p / PARTNER_FILE).is_file()):
        try:
            s = PartnerSettings.load(folder)
        except YamlError as exc:
            findings += exc.findings
            continue
        if s.partner in partners:
            findings.append(ConfigFinding("CFG_DUPLICATE_PARTNER", f"partner {s.partner!r} is declared twice "
                                          f"({partners[s.partner].mappings_dir.name} and {folder.name})", None, "",
                                          str(folder / PARTNER_FILE)))
            continue
        partners[s.partner] = s
    seen: dict[str, str] = {}
    for s in partners.values():
        for sid in s.partner_ids:
            if sid in seen:
                findings.append(ConfigFinding("CFG_DUPLICATE_ID", f"ISA id {sid} is declared by partners {seen[sid]} "
                                              f"and {s.partner}: interchanges could not be routed", None, "",
                                              str(s.mappings_dir / PARTNER_FILE)))
            seen[sid] = s.partner
    if not partners and not findings:
        findings.append(ConfigFinding("CFG_NO_PARTNER", f"no partner folder (with {PARTNER_FILE}) under mappings/",
                                      None, "`edi init DIR` writes a root with the Amazon partner", str(base)))
    return partners


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.y*ml") if p.is_file()) if folder.is_dir() else []


def _connectors(root: Path, partners: dict[str, PartnerSettings],
                findings: list[ConfigFinding]) -> dict[str, Connector]:
    out: dict[str, Connector] = {}
    for path in _yaml_files(root / "connectors"):
        try:
            tree = load_yaml(path)
            spec = ConnectorFile.model_validate(tree)
        except YamlError as exc:
            findings += exc.findings
            continue
        except ValidationError as exc:
            findings += validation_findings(exc, tree)
            continue
        where = getattr(tree, "mark", None)
        if spec.connector in out:
            findings.append(ConfigFinding("CFG_DUPLICATE_CONNECTOR", f"connector {spec.connector!r} is also defined "
                                          f"in {out[spec.connector].file.name}", where, "", str(path)))
            continue
        if partners and spec.partner not in partners:
            findings.append(ConfigFinding("CFG_UNKNOWN_PARTNER", f"partner {spec.partner!r} has no folder under "
                                          f"mappings/ (known: {', '.join(sorted(partners))})", where, "", str(path)))
            continue
        findings += _transport_findings(spec, tree, path)
        out[spec.connector] = Connector(spec, path)
    return out


def _transport_findings(spec: ConnectorFile, tree: Any, path: Path) -> list[ConfigFinding]:
    """The kind's own settings model checks its section (SFTP and AS2 settings live with their transport)."""
    from edi.transports.registry import settings_model  # noqa: PLC0415 - transports load only when configured

    section = getattr(spec, spec.kind)
    model = settings_model(spec.kind)
    if model is None or not isinstance(section, dict):
        return []
    try:
        model.model_validate(section)
    except ValidationError as exc:
        return [ConfigFinding(f.code, f"{spec.kind}.{f.message}", f.mark, f.hint, str(path))
                for f in validation_findings(exc, tree[spec.kind])]
    return []


def _schedules(root: Path, connectors: dict[str, Connector], findings: list[ConfigFinding]) -> list[ScheduledJob]:
    jobs: list[ScheduledJob] = []
    names: set[str] = set()
    for path in _yaml_files(root / "schedules"):
        try:
            tree = load_yaml(path)
            spec = ScheduleFile.model_validate(tree)
        except YamlError as exc:
            findings += exc.findings
            continue
        except ValidationError as exc:
            findings += validation_findings(exc, tree)
            continue
        for name, job in spec.jobs.items():
            mark = tree["jobs"].key_marks.get(name) if hasattr(tree["jobs"], "key_marks") else None
            if not re.match(_NAME, name):
                findings.append(ConfigFinding("CFG_INVALID", f"job name {name!r} must be lower-case letters, digits, "
                                              "'_' or '-'", mark, "", str(path)))
            if name in names:
                findings.append(ConfigFinding("CFG_DUPLICATE_JOB", f"job {name!r} is defined twice", mark, "",
                                              str(path)))
            if job.connector is not None and job.connector not in connectors:
                findings.append(ConfigFinding("CFG_UNKNOWN_CONNECTOR", f"job {name}: unknown connector "
                                              f"{job.connector!r} (known: {', '.join(sorted(connectors)) or 'none'})",
                                              mark, "", str(path)))
            if job.job == "poll" and job.connector is None and not connectors:
                findings.append(ConfigFinding("CFG_UNKNOWN_CONNECTOR", f"job {name}: nothing to poll (no connectors)",
                                              mark, "", str(path)))
            names.add(name)
            jobs.append(ScheduledJob(name, job, path))
    return jobs
