"""The Kubernetes values files name only settings that exist, checked offline on the real classes.

No cluster runs here. Each ``hub.config`` key is looked up among the traits
of the class it configures, the ``extraConfig`` code runs against a traitlets
``Config``, and the chart's ``singleuser`` resources map to KubeSpawner traits,
so a misspelt setting, which the hub would ignore in silence, fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dask_gateway_server.backends.kubernetes import KubeClusterConfig
from jupyterhub.app import JupyterHub
from jupyterhub.auth import Authenticator
from kubespawner import KubeSpawner
from nativeauthenticator import NativeAuthenticator
from traitlets.config import Config
from traitlets.utils.importstring import import_item

from quantdesk.hub.authenticator import QuantdeskAuthenticator

FOLDER = Path(__file__).resolve().parent.parent / "hub_config" / "kubernetes"
CONFIGURABLES: dict[str, type[Any]] = {
    "JupyterHub": JupyterHub,
    "Authenticator": Authenticator,
    "NativeAuthenticator": NativeAuthenticator,
    "QuantdeskAuthenticator": QuantdeskAuthenticator,
    "KubeSpawner": KubeSpawner,
    "KubeClusterConfig": KubeClusterConfig,
}
# zero-to-jupyterhub passes these singleuser values to KubeSpawner as these traits.
SINGLEUSER_TRAITS = {
    ("cpu", "limit"): "cpu_limit",
    ("cpu", "guarantee"): "cpu_guarantee",
    ("memory", "limit"): "mem_limit",
    ("memory", "guarantee"): "mem_guarantee",
    ("defaultUrl",): "default_url",
    ("image", "name"): "image",
}


def values(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FOLDER / name).read_text())
    return loaded


def unknown_settings(config: dict[str, dict[str, Any]]) -> list[str]:
    """Every ``Class.setting`` in ``config`` that is not a trait of that class."""
    problems = []
    for class_name, settings in config.items():
        configurable = CONFIGURABLES.get(class_name)
        if configurable is None:
            problems.append(f"{class_name} (no such configurable checked here)")
            continue
        traits = set(configurable.class_trait_names())
        problems += [f"{class_name}.{name}" for name in settings if name not in traits]
    return problems


def run_extra_config(code: str) -> Config:
    config = Config()
    exec(compile(code, "extraConfig", "exec"), {"c": config})
    return config


def test_every_hub_setting_is_a_trait_of_its_class() -> None:
    config = values("jupyterhub-values.yaml")["hub"]["config"]
    assert unknown_settings(config) == []
    authenticator = import_item(config["JupyterHub"]["authenticator_class"])
    assert issubclass(authenticator, NativeAuthenticator)
    assert config["NativeAuthenticator"]["open_signup"] is False
    assert config["Authenticator"]["allow_all"] is True


def test_a_misspelt_setting_is_caught() -> None:
    assert unknown_settings({"NativeAuthenticator": {"open_sign_up": False}}) == [
        "NativeAuthenticator.open_sign_up"
    ]
    assert unknown_settings({"KubeSpawnr": {"cpu_limit": 1}}) == [
        "KubeSpawnr (no such configurable checked here)"
    ]


def test_the_hub_extra_config_sets_the_pre_spawn_hook_on_kubespawner() -> None:
    code = values("jupyterhub-values.yaml")["hub"]["extraConfig"]["quantdesk"]
    config = run_extra_config(code)
    assert callable(config.KubeSpawner.pre_spawn_hook)
    assert unknown_settings({name: dict(value) for name, value in config.items()}) == []


def test_singleuser_resources_map_to_kubespawner_traits() -> None:
    singleuser = values("jupyterhub-values.yaml")["singleuser"]
    traits = set(KubeSpawner.class_trait_names())
    for path, trait in SINGLEUSER_TRAITS.items():
        value: Any = singleuser
        for key in path:
            value = value[key]
        assert value is not None, path
        assert trait in traits, trait
    assert "QUANTDESK_DATABASE_URL" not in singleuser.get("extraEnv", {})


def test_the_manager_credential_stays_in_the_hub() -> None:
    chart = values("jupyterhub-values.yaml")
    assert "QUANTDESK_ADMIN_DATABASE_URL" in chart["hub"]["extraEnv"]
    assert "secretKeyRef" in chart["hub"]["extraEnv"]["QUANTDESK_ADMIN_DATABASE_URL"]["valueFrom"]
    assert "ADMIN" not in " ".join(chart["singleuser"].get("extraEnv", {}))
    assert chart["proxy"]["https"]["enabled"] is True


@pytest.mark.parametrize("name", ["jupyterhub-values.yaml", "dask-gateway-values.yaml"])
def test_the_values_files_are_yaml_mappings(name: str) -> None:
    assert isinstance(values(name), dict)


def test_the_gateway_extra_config_names_real_kube_cluster_settings() -> None:
    chart = values("dask-gateway-values.yaml")["gateway"]
    config = run_extra_config(chart["extraConfig"]["quantdesk"])
    assert unknown_settings({name: dict(value) for name, value in config.items()}) == []
    assert config.KubeClusterConfig.worker_threads == 1
    assert chart["auth"]["type"] == "jupyterhub"
    assert chart["backend"]["worker"]["cores"]["limit"] == 1
