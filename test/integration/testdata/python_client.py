"""Drives a Skiff API server with the official Python client (Debian's
python3-kubernetes): create, list, watch and delete, printing what it saw."""
import sys

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
ns = "default"


def cm(name):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels={"from": "python"}),
        data={"k": name})


first = v1.create_namespaced_config_map(ns, cm("py-a"))
print("created", first.metadata.name, first.data["k"])
listed = v1.list_namespaced_config_map(ns, label_selector="from=python")
print("listed", ",".join(i.metadata.name for i in listed.items))
v1.create_namespaced_config_map(ns, cm("py-b"))

# From the list's revision on: the client sends watch=True.
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_config_map, ns, label_selector="from=python",
                   resource_version=listed.metadata.resource_version, timeout_seconds=10):
    print("watched", ev["type"], ev["object"].metadata.name)
    w.stop()

# From the start: the current objects as ADDED events.
seen = []
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_config_map, ns, label_selector="from=python", timeout_seconds=10):
    seen.append(ev["type"] + " " + ev["object"].metadata.name)
    if len(seen) == 2:
        w.stop()
print("initial", ",".join(sorted(seen)))

for name in ("py-a", "py-b"):
    v1.delete_namespaced_config_map(name, ns)
print("left", len(v1.list_namespaced_config_map(ns, label_selector="from=python").items))
