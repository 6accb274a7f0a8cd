"""Target profiles: a YAML file per app, validated into `TargetProfile` (see `model`).

    load_profile("clinic")                       a built-in profile (harness/profiles/)
    load_profile("examples/targets/vampi.yaml")  a file

`profile_digest` is what verdicts and flag pins bind: editing a profile (marking a private
field public, say) changes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from harness.bounded import read_bounded
from harness.errors import ConfigError
from harness.modelfile import load_model
from harness.profile.model import TargetProfile

__all__ = [
    "BUILTIN_DIR",
    "SCHEMA_PATH",
    "LoadedProfile",
    "TargetProfile",
    "builtin_profiles",
    "load_profile",
    "profile_schema_text",
    "resolve_profile",
]

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "profiles"
SCHEMA_PATH = BUILTIN_DIR / "profile.schema.json"


@dataclass(frozen=True, slots=True)
class LoadedProfile:
    profile: TargetProfile
    path: Path
    digest: str  # sha256 of the file's bytes

    @property
    def directory(self) -> Path:
        return self.path.parent


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def resolve_profile(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """A built-in name (`clinic`), or a path (relative to `relative_to` when given)."""
    text = str(name_or_path)
    if "/" not in text and not text.endswith((".yaml", ".yml")):
        path = BUILTIN_DIR / f"{text}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"there is no built-in profile '{text}'",
                f"built-in: {', '.join(builtin_profiles())}; or pass the path of a profile YAML",
            )
        return path
    path = Path(text)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    return path


def load_profile(name_or_path: str | Path, relative_to: Path | None = None) -> LoadedProfile:
    path = resolve_profile(name_or_path, relative_to)
    profile = load_model(TargetProfile, path, "profile", SCHEMA_PATH.name)
    data = read_bounded(path, "profile")  # read again: the digest is of the bytes, not the model
    return LoadedProfile(profile, path.resolve(), hashlib.sha256(data).hexdigest())


def profile_schema_text() -> str:
    schema = TargetProfile.model_json_schema(by_alias=True)
    schema["title"] = "Chaperone target profile"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
