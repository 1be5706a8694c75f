"""The commented gg-research.toml that `init` writes, and the one TOML formatter of the config writers."""

from __future__ import annotations

from gg_research.config.judging import ObjectiveConfig
from gg_research.config.model import Config


def render_default_toml() -> str:
    """The commented gg-research.toml that `init` writes: every field with its description."""
    lines = ["# gg-research workspace configuration. Every key is optional; shown are the defaults.", ""]
    cfg = Config()
    for section_name, section in cfg:
        if section_name == "objectives":
            continue
        lines.append(f"[{section_name}]")
        tables: list[str] = []
        for name, field in type(section).model_fields.items():
            value = getattr(section, name)
            if isinstance(value, dict):
                # A table of tables (e.g. the price table) follows the section's plain keys.
                tables += [f"# {field.description}"] + [
                    line for key, sub in value.items()
                    for line in (f"[{section_name}.{name}.{toml_value(key)}]",
                                 *(f"{k} = {toml_value(v)}" for k, v in sub.model_dump().items()))]
                continue
            lines.append(f"# {field.description}")
            lines.append(f"# {name} =" if value is None else f"{name} = {toml_value(value)}")
        lines += tables
        lines.append("")
    lines.append("# Objectives of the keep rule and the report, in order.")
    for obj in cfg.objectives:
        lines.append("[[objectives]]")
        for name, field in ObjectiveConfig.model_fields.items():
            value = getattr(obj, name)
            if value is None:
                lines.append(f"# {name} =   # {field.description}")
            else:
                lines.append(f"{name} = {toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def toml_value(value: object) -> str:
    """A Python value as TOML source (the config writers' one formatter)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
