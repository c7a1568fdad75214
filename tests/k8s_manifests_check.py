#!/usr/bin/python3
"""Checks the Kubernetes manifests and the Containerfile that deploy/ ships (tests/install_test).

  k8s_manifests_check.py K8S_DIR CONTAINERFILE BIN_DIR LIB_DIR

Manifests: each parses (Debian's python3-yaml), has apiVersion/kind/metadata; the Deployment's pod
probes /healthz and /readyz on the named HTTP port, asks for resources and a memory limit, drops every
capability but those the sandbox needs, and passes the PostgreSQL URL from a Secret; the Service
and the PodDisruptionBudget select the Deployment's pods; their ports exist on the container.
Containerfile: every library the binaries (and libnode) link is in a Debian package it installs.
Prints each problem and exits 1 if there is any."""
import pathlib
import re
import subprocess
import sys

import yaml

problems = []


def need(condition, what):
    if not condition:
        problems.append(what)


def check_manifests(directory):
    docs = {}
    for path in sorted(pathlib.Path(directory).glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            need(all(k in doc for k in ("apiVersion", "kind", "metadata")), f"{path.name}: apiVersion, kind, metadata")
            docs[doc["kind"]] = doc
    need(set(docs) >= {"Deployment", "Service", "PodDisruptionBudget"}, f"kinds: {sorted(docs)}")
    deployment = docs.get("Deployment", {})
    labels = deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    need(deployment.get("spec", {}).get("selector", {}).get("matchLabels", {}).items() <= labels.items(),
         "Deployment: its selector matches its pods")
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    need(len(containers) == 1, "Deployment: one container")
    container = containers[0] if containers else {}
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    need(ports == {"grpc": 7700, "http": 7701, "site": 7702}, f"container ports: {ports}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        got = container.get(probe, {}).get("httpGet", {})
        need(got.get("path") == path and got.get("port") in ("http", 7701), f"{probe}: GET {path} on the HTTP port")
    resources = container.get("resources", {})
    need("cpu" in resources.get("requests", {}) and "memory" in resources.get("limits", {}),
         "resources: a CPU request and a memory limit")
    security = container.get("securityContext", {})
    capabilities = security.get("capabilities", {})
    need(capabilities.get("drop") == ["ALL"], "securityContext: drops ALL capabilities")
    need(set(capabilities.get("add", [])) <= {"SYS_ADMIN", "SETUID", "SETGID", "CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL"},
         f"securityContext: adds only what the sandbox needs: {capabilities.get('add')}")
    need(security.get("allowPrivilegeEscalation") is False and security.get("privileged") is not True,
         "securityContext: no privilege escalation, not privileged")
    env = {e["name"]: e for e in container.get("env", [])}
    need("secretKeyRef" in env.get("ISOBAR_POSTGRES_URL", {}).get("valueFrom", {}),
         "ISOBAR_POSTGRES_URL comes from a Secret")
    service = docs.get("Service", {})
    need(service.get("spec", {}).get("selector", {}).items() <= labels.items(), "Service: selects the pods")
    for port in service.get("spec", {}).get("ports", []):
        need(port.get("targetPort") in ports, f"Service: target port {port.get('targetPort')} exists")
    pdb = docs.get("PodDisruptionBudget", {})
    need(pdb.get("spec", {}).get("selector", {}).get("matchLabels", {}).items() <= labels.items(),
         "PodDisruptionBudget: selects the pods")


def check_containerfile(containerfile, bin_dir, lib_dir):
    text = pathlib.Path(containerfile).read_text().replace("\\\n", " ")
    installs = re.search(r"apt-get install ([^&]*)", text)
    need(installs is not None, "Containerfile: an apt-get install")
    listed = set(installs.group(1).split()) if installs else set()
    base = {"libc6", "libgcc-s1", "libstdc++6"}  # in every Debian image
    files = [str(p) for p in pathlib.Path(bin_dir).iterdir()] + [str(p) for p in pathlib.Path(lib_dir).iterdir()]
    needs = {}  # library -> the files that link it
    for binary in files:
        dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
        for needed in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic):
            if needed != "libnode.so.108":  # carried by the install
                needs.setdefault(needed, []).append(pathlib.Path(binary).name)
    # One dpkg query for them all: "package:arch: /path/to/library" per line.
    found = subprocess.run(["dpkg", "-S"] + [f"*/{library}" for library in sorted(needs)], capture_output=True, text=True)
    owners = {}
    for line in found.stdout.splitlines():
        package, _, path = line.partition(": ")
        for name in package.split(", "):
            owners.setdefault(pathlib.PurePath(path).name, set()).add(name.split(":")[0])
    for library, users in sorted(needs.items()):
        packages = owners.get(library, set())
        need(packages & (listed | base),
             f"Containerfile: {', '.join(users)} need {library} (from {sorted(packages)}), not installed")

check_manifests(sys.argv[1])
check_containerfile(sys.argv[2], sys.argv[3], sys.argv[4])
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
